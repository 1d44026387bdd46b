/**
 * One component of a URL's query (`name` or `value`, `+` for a space) decoded, or null when its
 * percent-encoding decodes to no UTF-8 (`%ff`, an encoded surrogate, a `%` without two hex digits).
 */
export function decodeQueryComponent(text: string): string | null {
  const spaced = text.replace(/\+/g, ' ');
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return null;
  }
}

/**
 * `text` with the password of every `user:password@host` that follows a `/` shown as `***`: a URL in
 * a message, well formed or not (`postgres:/u:pw@host`, ` postgres://u:pw@host` from an env file, an
 * argument the option parser quotes back). The host is what follows the `@` up to a `/`, `?`, `#`,
 * space, quote or the end, so a password may hold an `@` (`u:p@ss@host`), and an `@` later in a URL
 * (`/db?user=alice@corp`, `/notify?to=ops@example.com`) is not taken for one. A password holding a `/`
 * is hidden by redactUrl's own rules for a URL that starts with its scheme.
 */
export function hideUserInfo(text: string): string {
  return text.replace(/\/([^\s:/@'"]*):([^\s/]+?)@([^\s@/?#'"]*)(?=[/?#\s'"),;]|$)/g, (m, user: string, password: string, host: string) =>
    password === '***' ? m : `/${user}:***@${host}`,
  );
}
