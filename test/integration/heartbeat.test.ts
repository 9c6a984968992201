/**
 * The local runtime's heartbeat (`WR_HEARTBEAT_SECONDS`): a socket that stops answering pings
 * (a phone gone out of reach, a half-open connection) is closed, and its visitor's abandon grace
 * starts as for any close; a socket that answers keeps its place for as long as it stays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import { startTestRoom, type TestRoom } from '../helpers/local-room.ts';

let room: TestRoom | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await room?.close();
  room = undefined;
});

/** A visitor that joins; with `answersPings` false its socket never answers a ping. */
async function visitor(r: TestRoom, answersPings: boolean) {
  const socket = new WebSocket(r.wsUrl, { autoPong: answersPings });
  sockets.push(socket);
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const joined = new Promise<string>((resolve) =>
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      if (message.type === 'joined') resolve(message.sessionId);
    }),
  );
  socket.send(JSON.stringify({ action: 'join' }));
  return { socket, closed, sessionId: await joined };
}

describe('the heartbeat', () => {
  it('closes a socket that stops answering and starts its grace; one that answers stays', async () => {
    // Prepare: a beat every second, nobody admitted.
    room = await startTestRoom({ WR_HEARTBEAT_SECONDS: '1', WR_ADMIT_PER_MINUTE: '0' });
    const silent = await visitor(room, false);
    const answering = await visitor(room, true);

    // Act: the silent one misses a beat and is closed at the next.
    const code = await silent.closed;
    await new Promise((resolve) => setTimeout(resolve, 2500));

    // Assess
    expect(code).toBe(1006);
    const gone = await room.room.store.get(silent.sessionId);
    expect(gone).toMatchObject({ state: 'waiting' });
    expect(gone?.disconnectedAt).not.toBeNull();
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    expect((await room.room.store.get(answering.sessionId))?.disconnectedAt).toBeNull();
  });

  it('sends no ping when turned off', async () => {
    // Prepare
    room = await startTestRoom({ WR_HEARTBEAT_SECONDS: '0', WR_ADMIT_PER_MINUTE: '0' });
    const silent = await visitor(room, false);
    let pinged = false;
    silent.socket.on('ping', () => {
      pinged = true;
    });

    // Act
    await new Promise((resolve) => setTimeout(resolve, 1500));

    // Assess
    expect(pinged).toBe(false);
    expect(silent.socket.readyState).toBe(WebSocket.OPEN);
  });
});
