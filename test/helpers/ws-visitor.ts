/**
 * A scripted visitor over a real WebSocket: sends protocol frames and keeps every message it
 * receives, stamped with when it arrived.
 */
import WebSocket from 'ws';
import type { ServerMessage } from '../../functions/core/protocol.ts';

export interface Received {
  at: number;
  message: ServerMessage;
}

export class WsVisitor {
  readonly received: Received[] = [];
  socket!: WebSocket;
  closed = false;
  #waiters: { test: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];

  private constructor(
    readonly url: string,
    /** The loopback address the visitor's sockets come from (127.0.0.1 unless given). */
    readonly localAddress?: string,
  ) {}

  static async connect(url: string, options: { localAddress?: string } = {}): Promise<WsVisitor> {
    const visitor = new WsVisitor(url, options.localAddress);
    await visitor.open();
    return visitor;
  }

  /** Opens a new socket (a reload or reconnect keeps what was received before). */
  async open(): Promise<void> {
    const socket = new WebSocket(
      this.url,
      this.localAddress === undefined ? {} : { localAddress: this.localAddress },
    );
    this.socket = socket;
    this.closed = false;
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      this.received.push({ at: Date.now(), message });
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    socket.on('close', () => {
      this.closed = true;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the next message (or one already received after `since`) that passes `test`. */
  next<T extends ServerMessage['type']>(
    type: T,
    options: {
      timeoutMs?: number;
      where?: (m: Extract<ServerMessage, { type: T }>) => boolean;
      since?: number;
    } = {},
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const test = (m: ServerMessage): boolean =>
      m.type === type && (options.where?.(m as Extract<ServerMessage, { type: T }>) ?? true);
    const since = options.since ?? this.received.length;
    const already = this.received.slice(since).find((r) => test(r.message));
    if (already) return Promise.resolve(already.message as Extract<ServerMessage, { type: T }>);
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no ${type} within ${timeoutMs} ms; got ${JSON.stringify(this.messages().slice(-3))}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ServerMessage, { type: T }>);
        },
      });
    });
  }

  messages(): ServerMessage[] {
    return this.received.map((r) => r.message);
  }

  positions(): number[] {
    return this.messages().flatMap((m) => (m.type === 'position' ? [m.position] : []));
  }

  async close(): Promise<void> {
    if (this.closed || this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Whether a list of positions never goes up. */
export function neverRises(positions: readonly number[]): boolean {
  return positions.every((p, i) => i === 0 || p <= (positions[i - 1] as number));
}
