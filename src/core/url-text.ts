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
