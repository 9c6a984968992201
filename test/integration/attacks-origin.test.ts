/**
 * A page on another site opening the room's WebSocket (its visitors' browsers would take places
 * in line), on both runtimes: the upgrade is refused unless the page is the main site's or one
 * `WR_ALLOWED_ORIGINS` names; an upgrade without `Origin` (the simulator, a native app) is let
 * in. Locally the front answers 403; through start:aws-local, `$connect` (the deployed code)
 * answers 403 and the API Gateway stand-in refuses the handshake.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';

let room: RuntimeRoom | undefined;
afterEach(async () => {
  await room?.close();
  room = undefined;
});

/** Opens the room's socket with `origin` (none if undefined); resolves with how it went. */
function connect(r: RuntimeRoom, origin: string | undefined): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(r.wsUrl, origin === undefined ? {} : { origin });
    socket.once('open', () => {
      socket.terminate();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => resolve(0));
  });
}

describe.each(RUNTIMES)('the WebSocket upgrade (%s)', (runtime) => {
  it('lets in the main site, an allowed origin and clients that send no Origin; refuses other pages', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_ALLOWED_ORIGINS: 'https://app.example.com' });
    const main = new URL(room.url).origin;

    // Act
    const answers = {
      main: await connect(room, main),
      allowed: await connect(room, 'https://app.example.com'),
      none: await connect(room, undefined),
      foreign: await connect(room, 'https://evil.example'),
      lookAlike: await connect(room, `${main}.evil.example`),
      sandboxed: await connect(room, 'null'),
    };

    // Assess
    expect(answers).toEqual({
      main: 'open',
      allowed: 'open',
      none: 'open',
      foreign: 403,
      lookAlike: 403,
      sandboxed: 403,
    });
  });
});
