/**
 * The HTTP side of both runtimes (`npm start` and `npm run start:aws-local`), from the same test
 * code: the gate in front of the main site, the JWKS, the admin endpoint and `npm run room`, the
 * upstream proxy, the key file and start-up validation.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { verifierFor, verifyPass } from '../../functions/core/tokens.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { freePort, RUNTIMES, type RuntimeRoom, startRuntimeRoom } from '../helpers/local-room.ts';
import { WsVisitor } from '../helpers/ws-visitor.ts';

const run = promisify(execFile);
const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

let room: RuntimeRoom | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await room?.close();
  room = undefined;
});

async function admittedPass(r: RuntimeRoom, returnPath: string) {
  const visitor = await WsVisitor.connect(r.wsUrl);
  cleanups.push(() => visitor.close());
  visitor.send({ action: 'join', return: returnPath });
  return visitor.next('admitted');
}

describe.each(RUNTIMES)('%s runtime', (runtime) => {
  describe('the gate in front of the demo main site', () => {
    it('sends a visitor without a pass to the waiting room with the page they asked for', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime);

      // Act
      const response = await fetch(`${room.url}/tickets?show=evening`, { redirect: 'manual' });

      // Assess
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location') ?? '');
      expect(location.pathname).toBe('/waiting-room/');
      expect(location.searchParams.get('return')).toBe('/tickets?show=evening');
    });

    it('turns a pass in the URL into a cookie and strips it from the address', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime, { WR_TICK_MS: '100' });
      const admitted = await admittedPass(room, '/tickets?show=evening');

      // Act
      const first = await fetch(admitted.redirectUrl, { redirect: 'manual' });
      const cookie = first.headers.get('set-cookie') ?? '';
      const second = await fetch(new URL(first.headers.get('location') ?? '', room.url), {
        redirect: 'manual',
        headers: { cookie: cookie.split(';')[0] as string },
      });

      // Assess
      expect(first.status).toBe(302);
      expect(first.headers.get('location')).toBe(`${room.url}/tickets?show=evening`);
      expect(first.headers.get('referrer-policy')).toBe('no-referrer');
      expect(cookie).toMatch(/^wr_pass=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      expect(second.status).toBe(200);
      expect(await second.text()).toContain('with a waiting-room pass');
    });

    it('lets everyone through when the room is off', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime, { WR_ENABLED: 'false' });

      // Act
      const response = await fetch(`${room.url}/about`, { redirect: 'manual' });

      // Assess
      expect(response.status).toBe(200);
    });

    it('never gates the paths the waiting room needs', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime);

      // Act
      const jwks = await fetch(`${room.url}/.well-known/jwks.json`);
      const health = await fetch(`${room.url}/__room/health`);

      // Assess
      expect(jwks.status).toBe(200);
      expect(health.status).toBe(200);
    });
  });

  describe('public keys', () => {
    it('publishes the key that verifies the passes the room issues', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime, { WR_TICK_MS: '100' });
      const admitted = await admittedPass(room, '/');

      // Act
      const jwks = (await (
        await fetch(`${room.url}/.well-known/jwks.json`)
      ).json()) as JSONWebKeySet;
      const verified = await verifyPass(verifierFor(jwks), admitted.pass, {
        roomId: 'waiting-room',
        mainOrigin: room.url,
        now: Math.floor(Date.now() / 1000),
      });

      // Assess
      // The key ring: the current key, which signs, and the next one, published ahead.
      expect(jwks.keys).toHaveLength(2);
      expect(jwks.keys[0]?.kid).toBe(decodeProtectedHeader(admitted.pass).kid);
      for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
      expect(verified?.expiresAt).toBe(admitted.expiresAt);
    });
  });

  describe('operator control', () => {
    it('changes the running room with npm run room and reports its status', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime);

      // Act
      const rate = await run(TSX, ['tools/room.ts', 'rate', '250', '--url', room.url]);
      const off = await run(TSX, ['tools/room.ts', 'off', '--url', room.url]);
      const status = await run(TSX, ['tools/room.ts', 'status', '--url', room.url]);

      // Assess
      expect(rate.stdout).toContain('250 per minute');
      expect(off.stdout).toContain('OFF');
      expect(status.stdout).toMatch(/room\s+OFF/);
      expect(await room.status()).toMatchObject({ enabled: false, admitPerMinute: 250 });
    });

    it('refuses a bad rate without changing anything', async () => {
      // Prepare
      room = await startRuntimeRoom(runtime);

      // Act
      const response = await adminFetch(room.url, 'config', {
        method: 'POST',
        body: JSON.stringify({ admitPerMinute: -3 }),
      });
      const cli = await run(TSX, ['tools/room.ts', 'rate', 'fast', '--url', room.url]).catch(
        (e: { code: number; stderr: string }) => e,
      );

      // Assess
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain('admitPerMinute');
      expect((cli as { code: number }).code).toBe(2);
      expect((cli as { stderr: string }).stderr).toContain('whole number');
      expect((await room.status()).admitPerMinute).toBe(60);
    });
  });

  describe('upstream proxy', () => {
    it('passes method, path, query, body, status and headers through to WR_UPSTREAM', async () => {
      // Prepare
      const seen: { method?: string; url?: string; body?: string; host?: string } = {};
      const upstream: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          Object.assign(seen, { method: req.method, url: req.url, body, host: req.headers.host });
          res.writeHead(201, { 'x-upstream': 'yes', 'content-type': 'text/plain' });
          res.end('created');
        });
      });
      const upstreamPort = await freePort();
      await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => upstream.close(() => r())));
      room = await startRuntimeRoom(runtime, {
        WR_ENABLED: 'false',
        WR_UPSTREAM: `http://127.0.0.1:${upstreamPort}`,
      });

      // Act
      const response = await fetch(`${room.url}/api/orders?x=1&y=2`, {
        method: 'POST',
        body: '{"seats":2}',
      });

      // Assess
      expect(response.status).toBe(201);
      expect(response.headers.get('x-upstream')).toBe('yes');
      expect(await response.text()).toBe('created');
      expect(seen).toEqual({
        method: 'POST',
        url: '/api/orders?x=1&y=2',
        body: '{"seats":2}',
        host: `127.0.0.1:${upstreamPort}`,
      });
    });
  });

  describe('start-up', () => {
    it('creates the key file with mode 0600 and keeps using it', async () => {
      // Prepare
      const dir = await mkdtemp(join(tmpdir(), 'wr-key-'));
      const keyFile = join(dir, 'room-key.pem');

      // Act
      room = await startRuntimeRoom(runtime, { WR_KEY_FILE: keyFile });
      const firstKid = room.key.kid;
      await room.close();
      room = await startRuntimeRoom(runtime, { WR_KEY_FILE: keyFile });

      // Assess
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(await readFile(keyFile, 'utf8')).toContain('BEGIN PRIVATE KEY');
      expect(room.key.kid).toBe(firstKid);
    });

    it('refuses a port in use at once, naming PORT, before starting anything behind it', async () => {
      // Prepare
      const taken = createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
      const { port } = taken.address() as { port: number };
      // On aws-local, the first thing the backend does is reach DynamoDB: count who calls.
      let dynamoCalls = 0;
      const dynamo = createServer((_req, res) => {
        dynamoCalls += 1;
        res.writeHead(500).end();
      });
      await new Promise<void>((r) => dynamo.listen(0, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => dynamo.close(() => r())));
      const dynamoPort = (dynamo.address() as { port: number }).port;

      // Act
      const result = await run(
        TSX,
        ['local/main.ts', ...(runtime === 'aws-local' ? ['--aws-local'] : [])],
        {
          env: {
            ...process.env,
            HOST: '127.0.0.1',
            PORT: String(port),
            WR_DYNAMODB_ENDPOINT: `http://127.0.0.1:${dynamoPort}`,
          },
        },
      ).catch((e: { code: number; stderr: string }) => e);

      // Assess
      const { code, stderr } = result as { code: number; stderr: string };
      expect(code).toBe(1);
      expect(stderr).toContain(`PORT: 127.0.0.1:${port} is already in use`);
      expect(dynamoCalls).toBe(0);
    });

    it('refuses to start on a bad setting and names the variable', async () => {
      // Act
      const result = await run(
        TSX,
        ['local/main.ts', ...(runtime === 'aws-local' ? ['--aws-local'] : [])],
        {
          env: { ...process.env, WR_TICK_MS: 'soon' },
        },
      ).catch((e: { code: number; stderr: string }) => e);

      // Assess
      expect((result as { code: number }).code).toBe(1);
      expect((result as { stderr: string }).stderr).toContain('WR_TICK_MS');
    });
  });
});
