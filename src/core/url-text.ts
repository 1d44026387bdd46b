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
 * `text` with the password of every `user:password@` that follows a `/` shown as `***`: a URL in a
 * message, well formed or not (`postgres:/u:pw@host`, ` postgres://u:pw@host` from an env file, an
 * argument the option parser quotes back). The password runs to the last `@` of its word.
 */
export function hideUserInfo(text: string): string {
  return text.replace(/\/([^\s:/@'"]*):([^\s'"]+)@/g, (m, user: string, password: string) => (password === '***' ? m : `/${user}:***@`));
}
