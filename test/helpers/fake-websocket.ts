import type { KeyValueStorage, SocketLike } from '../../client/src/lib/waiting-room.svelte.ts';

/**
 * A stand-in for the browser's WebSocket, driven by the test: `open()`, `receive(message)`,
 * `drop()`. Frames the client sends are kept, parsed, in `sent`.
 */
export class FakeWebSocket implements SocketLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  readyState: number = FakeWebSocket.CONNECTING;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  readonly sent: unknown[] = [];
  closedByClient = false;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('InvalidStateError: not open');
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.closedByClient = true;
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code: 1000, wasClean: true });
  }

  /** The server accepted the connection. */
  open(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({});
  }

  /** The server sent `message` as a JSON text frame. */
  receive(message: object): void {
    this.receiveRaw(JSON.stringify(message));
  }

  receiveRaw(data: unknown): void {
    this.onmessage?.({ data });
  }

  /** The connection broke (network, server restart): an unclean close. */
  drop(): void {
    this.readyState = FakeWebSocket.CLOSED;
    this.onerror?.({});
    this.onclose?.({ code: 1006, wasClean: false });
  }

  /** The `action`s sent so far, in order. */
  actions(): string[] {
    return this.sent.map((message) => String((message as { action?: unknown }).action));
  }
}

/** A socket factory that keeps every socket it made, newest last. */
export class FakeSocketFactory {
  readonly sockets: FakeWebSocket[] = [];
  readonly create = (url: string): FakeWebSocket => {
    const socket = new FakeWebSocket(url);
    this.sockets.push(socket);
    return socket;
  };

  /** The socket made last; fails the test when none was. */
  get latest(): FakeWebSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('no socket was opened');
    return socket;
  }
}

/** `localStorage` in memory. */
export class MemoryStorage implements KeyValueStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}
