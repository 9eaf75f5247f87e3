import { pageToken } from './api-client.ts';

/**
 * A WebSocket to the API that comes back by itself. Screens hang in a lobby for months: a restarted
 * server or a dropped Wi-Fi must not need someone with a keyboard. `state` is what the page shows:
 *   connecting — no data yet; live — messages arrive; stale — connected or not, nothing for `staleAfterMs`
 *   (the page must then say that what it shows may be old); offline — the socket is closed, retrying.
 * The server's channels send a heartbeat, so silence means trouble, not a quiet building.
 */
export type LiveState = 'connecting' | 'live' | 'stale' | 'offline';

export interface LiveSocketOptions {
  /** Path of the API's WebSocket, e.g. `/api/lobby/live`; the page's lobby token is added. */
  path: string;
  onMessage: (message: unknown) => void;
  staleAfterMs?: number;
  /** First retry delay; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class LiveSocket {
  state = $state<LiveState>('connecting');
  /** When the last message arrived (ms), or null. */
  lastMessageAt = $state<number | null>(null);

  #socket: WebSocket | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #staleTimer: ReturnType<typeof setInterval> | undefined;
  #retryMs: number;
  #closed = false;
  readonly #options: Required<LiveSocketOptions>;

  constructor(options: LiveSocketOptions) {
    this.#options = { staleAfterMs: 35_000, retryMs: 500, maxRetryMs: 10_000, ...options };
    this.#retryMs = this.#options.retryMs;
  }

  /** What is shown may be old: nothing has arrived for a while, or the connection is gone. */
  get isStale(): boolean {
    return this.state === 'stale' || this.state === 'offline';
  }

  start(): this {
    this.#connect();
    this.#staleTimer = setInterval(() => this.#checkStale(), 1000);
    return this;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#staleTimer);
    this.#socket?.close();
  }

  #url(): string {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = pageToken();
    const query = token
      ? `${this.#options.path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
      : '';
    return `${scheme}//${location.host}${this.#options.path}${query}`;
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = new WebSocket(this.#url());
    this.#socket = socket;
    socket.onmessage = (event) => {
      this.#retryMs = this.#options.retryMs;
      this.lastMessageAt = Date.now();
      this.state = 'live';
      let message: unknown;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return;
      }
      this.#options.onMessage(message);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#closed) return;
      this.state = 'offline';
      this.#retryTimer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs);
    };
    // An error is always followed by close, where the retry is scheduled.
    socket.onerror = () => {};
  }

  #checkStale(): void {
    if (this.state !== 'live' || this.lastMessageAt === null) return;
    if (Date.now() - this.lastMessageAt > this.#options.staleAfterMs) {
      this.state = 'stale';
      // A half-open TCP connection never closes by itself: reconnect to find out.
      this.#socket?.close();
    }
  }
}
