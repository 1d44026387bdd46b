/** True for addresses only this machine can reach (serving elsewhere without a token is refused). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
