/**
 * The operator's admin endpoint under attack, on both runtimes (they share the HTTP front): a
 * cross-site page in a local browser, a request without the secret (as every request behind a
 * reverse proxy on this host comes from loopback), a rebound DNS name, a form post. None may
 * change the room; `npm run room` (which reads the secret where the room wrote it) still can.
 */

import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { adminSecretPath } from '../../local/admin-secret.ts';
import { runRoomCli } from '../../tools/room.ts';
import { RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';

let room: RuntimeRoom | undefined;
afterEach(async () => {
  await room?.close();
  room = undefined;
});

/** One raw request (so that `Host` and browser headers can be set as an attacker sets them). */
function send(
  r: RuntimeRoom,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: r.port, method, path, headers, setHost: !('host' in headers) },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function secretOf(r: RuntimeRoom): Promise<string> {
  return (await readFile(adminSecretPath(null, r.port), 'utf8')).trim();
}

const SWITCH_OFF = JSON.stringify({ enabled: false, admitPerMinute: 1_000_000 });

describe.each(RUNTIMES)('the admin endpoint (%s)', (runtime) => {
  it.each([
    ['no secret (a reverse proxy on this host forwards every request from loopback)', {}, 401],
    ['a wrong secret', { authorization: 'Bearer not-the-secret' }, 401],
    ['a cross-site page (Origin), even with the secret', { origin: 'https://evil.example' }, 403],
    ['a cross-site fetch (Sec-Fetch-Site)', { 'sec-fetch-site': 'cross-site' }, 403],
    ['a rebound DNS name (foreign Host)', { host: 'evil.example:80' }, 403],
    ['a form post (text/plain), even with the secret', { 'content-type': 'text/plain' }, 415],
  ])('refuses %s and changes nothing', async (_, attack: Record<string, string>, status) => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_ADMIT_PER_MINUTE: '60' });
    const secret = await secretOf(room);
    const withSecret: Record<string, string> =
      'authorization' in attack || status === 401 ? {} : { authorization: `Bearer ${secret}` };

    // Act
    const answer = await send(
      room,
      'POST',
      '/__room/admin/config',
      { 'content-type': 'application/json', ...withSecret, ...attack },
      SWITCH_OFF,
    );

    // Assess
    expect(answer.status).toBe(status);
    expect(await room.status()).toMatchObject({ enabled: true, admitPerMinute: 60 });
  });

  it('answers npm run room, which reads the secret the room wrote for the operator alone', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime, { WR_ADMIT_PER_MINUTE: '60' });
    const out: string[] = [];

    // Act
    const code = await runRoomCli(['rate', '120', '--url', room.url], { out: (t) => out.push(t) });
    const mode = (await stat(adminSecretPath(null, room.port))).mode & 0o777;

    // Assess
    expect(code).toBe(0);
    expect(out.join('')).toContain('120 per minute');
    expect(await room.status()).toMatchObject({ admitPerMinute: 120 });
    expect(mode).toBe(0o600);
  });
});

describe('the admin secret of a room kept in memory', () => {
  it('is removed when the room stops', async () => {
    // Prepare
    room = await startRuntimeRoom('local');
    const path = adminSecretPath(null, room.port);
    await stat(path);

    // Act
    await room.close();
    room = undefined;

    // Assess
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });
});
