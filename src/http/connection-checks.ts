import { hideUserInfo } from '../core/url-text.js';
/**
 * What an API token must be: printable ASCII without spaces (it travels in an Authorization header),
 * or null when it is fine. The CLI's --token, startServer's http.token and OrreryClient's token.
 */
export function apiTokenProblem(token: unknown): string | null {
  if (typeof token !== 'string') return 'must be a string';
  if (token === '') return 'must not be empty (leave it out for no token)';
  if (!/^[\x21-\x7e]+$/.test(token)) return 'must be printable ASCII without spaces (it travels in an Authorization header)';
  return null;
}

/** Why a server address cannot be used (null when it can): an http(s) URL with a host, no query and no fragment. */
export function serverUrlProblem(url: unknown): string | null {
  // The URL is quoted in the answer: with its password hidden (one with credentials is refused).
  const problem = urlProblem(url);
  return problem === null ? null : hideUserInfo(problem);
}

function urlProblem(url: unknown): string | null {
  if (typeof url !== 'string' || url === '') return 'must be the server\'s address, such as http://127.0.0.1:5180';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL (give the server's address, such as http://127.0.0.1:5180)`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `"${url}" must start with http:// or https://`;
  if (parsed.search !== '' || parsed.hash !== '' || url.includes('?') || url.includes('#')) return `"${url}" must not have a query or a fragment (the server's address, such as http://127.0.0.1:5180)`;
  if (parsed.username !== '' || parsed.password !== '') return `"${url}" must not carry credentials (give the token instead)`;
  return null;
}
