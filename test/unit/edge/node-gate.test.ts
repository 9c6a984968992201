import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNodeGate } from '../../../edge/node-gate.ts';
import { gateConfig, NOW, PASS_TTL_SECONDS, passFor, type RoomKeys, roomKeys } from './fixtures.ts';

const LOCAL_ORIGIN = 'http://localhost:8080';
const config = gateConfig({
  mainOrigin: LOCAL_ORIGIN,
  waitingRoomUrl: `${LOCAL_ORIGIN}/waiting-room/`,
});

let room: RoomKeys;
let validPass: string;
let server: Server;
let baseUrl: string;
let enabled: () => boolean | Promise<boolean>;

beforeAll(async () => {
  room = await roomKeys();
  validPass = await passFor(room.key, { mainOrigin: LOCAL_ORIGIN });
  const gate = createNodeGate({
    config,
    verifyKeys: room.keys,
    isEnabled: () => enabled(),
    clock: { now: () => NOW * 1000 },
  });
  server = createServer(async (req, res) => {
    if (await gate(req, res)) return;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`main site ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  enabled = () => true;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function get(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseUrl}${path}`, { redirect: 'manual', ...init });
}

describe('createNodeGate', () => {
  it('redirects a visitor without a pass to the waiting room', async () => {
    // Act
    const res = await get('/products/42?color=red');

    // Assess
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(
      `${LOCAL_ORIGIN}/waiting-room/?return=%2Fproducts%2F42%3Fcolor%3Dred`,
    );
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('hands a request with a valid pass cookie on to the main site', async () => {
    const res = await get('/checkout', { headers: { cookie: `theme=dark; wr_pass=${validPass}` } });

    expect(res.status).toBe(200);
    expect(await res.text()).toBe('main site GET /checkout');
  });

  it('turns a pass in the URL into a cookie and redirects to the clean URL', async () => {
    const res = await get(`/checkout?step=2&wr_pass=${validPass}`);

    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${LOCAL_ORIGIN}/checkout?step=2`);
    expect(res.headers.getSetCookie()).toEqual([
      `wr_pass=${validPass}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${PASS_TTL_SECONDS - 60}`,
    ]);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('refuses a POST without a pass with 503 and Retry-After', async () => {
    const res = await get('/cart', { method: 'POST', body: 'item=1' });

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(await res.text()).toContain(`${LOCAL_ORIGIN}/waiting-room/`);
  });

  it('lets the waiting room itself through', async () => {
    const res = await get('/waiting-room/index.html');

    expect(res.status).toBe(200);
  });

  it('lets everything through while the room is off', async () => {
    enabled = async () => false;

    const res = await get('/checkout');

    expect(res.status).toBe(200);
  });

  it('keeps the room at its default when isEnabled fails', async () => {
    enabled = () => {
      throw new Error('flag store down');
    };

    const res = await get('/checkout');

    expect(res.status).toBe(302);
  });
});
