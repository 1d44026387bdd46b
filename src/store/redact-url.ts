import { decodeQueryComponent, hideUserInfo } from '../core/url-text.js';

/**
 * Whether a postgres:// URL parses as the driver parses it: with a host, or with credentials and no
 * host (`postgres://u:p@/db?host=/run/postgresql`, libpq's form for a unix socket), which the WHATWG
 * parser refuses and the driver reads with a placeholder host, as this does.
 */
export function postgresUrlParses(url: string): boolean {
  return URL.canParse(url) || (url.includes('@/') && URL.canParse(url.replace('@/', '@localhost/')));
}

/**
 * A database URL with its password replaced by `***`, for logs and error messages. The user info is
 * everything between `//` and the last `@` before the host's path (as URL parsers read it, so an
 * unescaped `@` in a password is hidden too); the password is what follows its first `:`, and an
 * empty user name (`postgres://:secret@host/db`) keeps it hidden as well. A password given as a query
 * parameter (`?password=...`, `sslpassword=...`, which the driver reads too) is hidden likewise.
 */
export function redactUrl(url: string): string {
  // Last, any `user:password@` left in a URL too broken for the rules above (a space before it, one slash).
  return hideUserInfo(redactQuery(redactUserInfo(url)));
}

function redactUserInfo(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url);
  if (!m) return redactBrokenUserInfo(url);
  const info = m[2]!;
  const colon = info.indexOf(':');
  if (colon === -1) return url;
  return `${m[1]}${info.slice(0, colon)}:***@${url.slice(m[0].length)}`;
}

/**
 * An unescaped `/`, `?` or `#` in a password (`postgres://u:sec/ret@host/db`, a base64 password)
 * ends the authority before its `@` for URL parsers, so the URL is not valid; its message must hide
 * the password all the same: everything from the first `:` after `//` to the last `@` goes.
 */
function redactBrokenUserInfo(url: string): string {
  const s = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  // A URL that parses has no user info here: an `@` later in it (`/db?user=alice@corp`) is not one.
  if (!s || URL.canParse(url)) return url;
  const rest = url.slice(s[0].length);
  const at = rest.lastIndexOf('@');
  const colon = rest.indexOf(':');
  if (at === -1 || colon === -1 || colon > at) return url;
  return `${s[0]}${rest.slice(0, colon)}:***@${rest.slice(at + 1)}`;
}

function redactQuery(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  const q = url.indexOf('?');
  if (q === -1) return url;
  const hash = url.indexOf('#', q);
  const end = hash === -1 ? url.length : hash;
  const params = url
    .slice(q + 1, end)
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      const raw = eq === -1 ? p : p.slice(0, eq);
      const name = (decodeQueryComponent(raw) ?? raw).toLowerCase();
      return eq !== -1 && (name === 'password' || name === 'sslpassword') ? `${p.slice(0, eq)}=***` : p;
    });
  return `${url.slice(0, q + 1)}${params.join('&')}${url.slice(end)}`;
}
