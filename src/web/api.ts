import { OrreryClient } from '../http/client.js';
import { apiTokenProblem } from '../http/connection-checks.js';

/** The API token lives in this tab's session storage only: asked for once, when the API answers 401. */
const TOKEN_KEY = 'orrery.token';

type Listener = () => void;

/** A run event of the server's stream (`/api/events`): the run as it is after the change. */
export interface LiveRun {
  event: 'scheduled' | 'claimed' | 'started' | 'ended';
  run: { id: number; task: number; type: string; backendId: string; status: string };
}

/** The token kept for this tab, if it is one a request can carry (a bad one is forgotten, not a blank page). */
function storedToken(): string | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token !== null && apiTokenProblem(token) !== null) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

class Api {
  token: string | null = storedToken();
  client = new OrreryClient(location.origin, this.token);
  /** True while the dashboard waits for the user to type a token. */
  needsToken = false;
  tokenRejected = false;
  /** Why the token typed last cannot be sent (spaces, characters outside printable ASCII), or null. */
  tokenProblem: string | null = null;
  private waiting: Array<() => void> = [];
  private listeners = new Set<Listener>();

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Calls the API; on 401 asks for the token (once for all pending calls) and tries again. */
  async call<T>(fn: (c: OrreryClient) => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn(this.client);
      } catch (e) {
        if ((e as { code?: string }).code !== 'unauthorized') throw e;
        await this.askToken();
      }
    }
  }

  /** Waits until the user gave a token. */
  askToken(): Promise<void> {
    if (!this.needsToken) {
      this.tokenRejected = this.token !== null;
      this.needsToken = true;
      this.changed();
    }
    return new Promise((r) => this.waiting.push(r));
  }

  /** Uses the token typed (a leading `Bearer ` is dropped); one a request cannot carry is refused with `tokenProblem` set. */
  setToken(typed: string): void {
    const token = typed.trim().replace(/^Bearer\s+/i, '');
    this.tokenProblem = apiTokenProblem(token);
    if (this.tokenProblem !== null) {
      this.changed();
      return;
    }
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    this.client = new OrreryClient(location.origin, token);
    this.needsToken = false;
    this.changed();
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }

  forgetToken(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = null;
    this.client = new OrreryClient(location.origin, null);
    this.changed();
  }

  /** The Authorization header for requests the client does not make (the event stream). */
  headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }
}

export const api = new Api();

export type LiveState = 'connecting' | 'live' | 'offline';

/**
 * The server's event stream, read with fetch (EventSource cannot send the Authorization header, and
 * the token must never travel in a URL). Reconnects with a growing delay; subscribers get each run event.
 */
class Live {
  state: LiveState = 'connecting';
  private subscribers = new Set<(e: LiveRun) => void>();
  private stateListeners = new Set<Listener>();
  private started = false;

  subscribe(fn: (e: LiveRun) => void): () => void {
    this.subscribers.add(fn);
    this.start();
    return () => this.subscribers.delete(fn);
  }
  onState(l: Listener): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }
  /** The stream connected once: until then a failure leaves the badge on `Connecting…` (dashboard.md). */
  private connectedOnce = false;
  private setState(s: LiveState): void {
    if (s === 'live') this.connectedOnce = true;
    // Never connected yet (a token asked for, the server unreachable at first load): still connecting, not reconnecting.
    if (s === 'offline' && !this.connectedOnce) s = 'connecting';
    if (s === this.state) return;
    this.state = s;
    for (const l of this.stateListeners) l();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    let delay = 1000;
    for (;;) {
      try {
        const res = await fetch('/api/events', { headers: { accept: 'text/event-stream', ...api.headers() } });
        if (res.status === 401) {
          this.setState('offline');
          await api.askToken();
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let i: number;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            this.frame(frame);
            delay = 1000;
          }
        }
      } catch {
        // server restarting or unreachable: reconnect below
      }
      this.setState('offline');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }

  private frame(frame: string): void {
    let event = 'message';
    let data = '';
    for (const line of frame.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (event === 'ready' || event === 'ping') this.setState('live');
    if (event !== 'run') return;
    try {
      const e = JSON.parse(data) as LiveRun;
      for (const s of this.subscribers) s(e);
    } catch {
      // a frame we do not understand
    }
  }
}

export const live = new Live();
