/**
 * A database URL with its password replaced by `***`, for logs and error messages. The user info is
 * everything between `//` and the last `@` before the host's path (as URL parsers read it, so an
 * unescaped `@` in a password is hidden too); the password is what follows its first `:`, and an
 * empty user name (`postgres://:secret@host/db`) keeps it hidden as well.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url);
  if (!m) return url;
  const info = m[2]!;
  const colon = info.indexOf(':');
  if (colon === -1) return url;
  return `${m[1]}${info.slice(0, colon)}:***@${url.slice(m[0].length)}`;
}
