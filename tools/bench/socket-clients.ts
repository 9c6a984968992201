/**
 * A benchmark client process: holds up to a few thousand WebSockets for the parent, joins the
 * room on them if asked, and records when each message of interest arrived. Run by fork() from
 * tools/bench/sockets.ts; talks to the parent over IPC only.
 */
import WebSocket from 'ws';

export type ClientCommand =
  | { cmd: 'open'; url: string; count: number; join: boolean }
  | { cmd: 'join-burst'; count: number }
  | { cmd: 'report' }
  | { cmd: 'close' };

export type ClientReply =
  | { kind: 'opened'; sockets: number; failed: number }
  | { kind: 'joined'; count: number; firstSentAt: number; lastJoinedAt: number }
  | { kind: 'report'; receipts: number[] }
  | { kind: 'closed' };

const now = () => performance.timeOrigin + performance.now();
const sockets: WebSocket[] = [];
let receipts: number[] = [];
let url = '';

function send(reply: ClientReply): void {
  process.send?.(reply);
}

/** Opens one socket; if `join`, resolves once it has its first position. */
function openOne(join: boolean): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let settled = false;
    const done = (value: WebSocket | null) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    socket.on('open', () => {
      if (join) socket.send('{"action":"join","return":"/bench"}');
      else done(socket);
    });
    socket.on('message', (data) => {
      const text = data.toString();
      // Cheap classification: the benchmark only counts pushes, it does not need to parse them.
      if (text.startsWith('{"type":"position"') || text.startsWith('{"type":"bcast"')) {
        if (settled) receipts.push(now());
        else done(socket);
      }
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
}

async function openMany(
  count: number,
  join: boolean,
): Promise<{ opened: WebSocket[]; failed: number }> {
  const opened: WebSocket[] = [];
  let failed = 0;
  const batch = 250;
  for (let i = 0; i < count; i += batch) {
    const results = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, () => openOne(join)),
    );
    for (const socket of results) {
      if (socket) opened.push(socket);
      else failed += 1;
    }
  }
  return { opened, failed };
}

process.on('message', async (command: ClientCommand) => {
  switch (command.cmd) {
    case 'open': {
      url = command.url;
      const { opened, failed } = await openMany(command.count, command.join);
      sockets.push(...opened);
      receipts = [];
      send({ kind: 'opened', sockets: opened.length, failed });
      return;
    }
    case 'join-burst': {
      // Open the sockets first, then send every join at once and time the acknowledgements.
      const { opened } = await openMany(command.count, false);
      sockets.push(...opened);
      let pending = opened.length;
      const firstSentAt = now();
      let lastJoinedAt = firstSentAt;
      await new Promise<void>((resolve) => {
        if (pending === 0) resolve();
        for (const socket of opened) {
          socket.on('message', (data) => {
            if (data.toString().startsWith('{"type":"joined"')) {
              lastJoinedAt = now();
              pending -= 1;
              if (pending === 0) resolve();
            }
          });
          socket.send('{"action":"join","return":"/bench"}');
        }
      });
      send({ kind: 'joined', count: opened.length, firstSentAt, lastJoinedAt });
      return;
    }
    case 'report':
      send({ kind: 'report', receipts });
      receipts = [];
      return;
    case 'close':
      for (const socket of sockets) socket.terminate();
      send({ kind: 'closed' });
      setTimeout(() => process.exit(0), 50);
      return;
  }
});
