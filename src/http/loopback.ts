/**
 * True for names only this machine can reach: `localhost`, `127.x.x.x`, `::1` (also `[::1]`, as a
 * Host header writes it), in any case. Serving elsewhere without a token is refused, and without a
 * token only requests whose Host is such a name are served (guards.ts).
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
