/**
 * True for names only this machine can reach: `localhost`, `127.x.x.x`, `::1` (also `[::1]`, as a
 * Host header writes it, and its longer forms such as `0:0:0:0:0:0:0:1`), in any case. Serving elsewhere without a token is refused, and without a
 * token only requests whose Host is such a name are served (guards.ts).
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || (h.includes(':') && shortestIpv6(h) === '::1');
}

/** An IPv6 address as a URL writes it (`0:0:0:0:0:0:0:1` is `::1`), or null when it is none. */
function shortestIpv6(address: string): string | null {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}
