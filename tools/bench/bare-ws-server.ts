/**
 * The fan-out baseline: a bare `ws` server that, when the parent asks, sends one message of the
 * given size to every connected socket in a plain loop. Run by fork() from tools/bench/sockets.ts.
 */
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('listening', () => {
  const address = wss.address();
  process.send?.({
    kind: 'listening',
    port: typeof address === 'object' && address ? address.port : 0,
  });
});

process.on(
  'message',
  (command: { cmd: 'broadcast'; bytes: number; round: number } | { cmd: 'close' }) => {
    if (command.cmd === 'close') {
      wss.close();
      process.exit(0);
    }
    if (command.cmd === 'broadcast') {
      const head = `{"type":"bcast","round":${command.round},"pad":"`;
      const message = `${head}${'x'.repeat(Math.max(0, command.bytes - head.length - 2))}"}`;
      for (const client of wss.clients) client.send(message);
      process.send?.({ kind: 'sent', clients: wss.clients.size });
    }
  },
);
