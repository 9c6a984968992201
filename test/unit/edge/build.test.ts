import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type BuildViewerRequestResult,
  buildViewerRequest,
  EDGE_VIEWER_PACKAGE_LIMIT_BYTES,
} from '../../../edge/build.ts';
import type {
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
} from '../../../edge/cloudfront-types.ts';
import type { EdgeConfig } from '../../../edge/edge-config.ts';
import { jwksOf, signPass } from '../../../functions/core/tokens.ts';
import { viewerRequestEvent } from '../../helpers/cloudfront-events.ts';
import { gateConfig, type RoomKeys, roomKeys, signedClaims } from './fixtures.ts';

let room: RoomKeys;
let outdir: string;
let flagServer: Server;
let built: BuildViewerRequestResult;
let config: EdgeConfig;
let flagReads = 0;

beforeAll(async () => {
  room = await roomKeys();
  outdir = await mkdtemp(join(tmpdir(), 'wr-edge-build-'));
  // Stands in for the flag document, so that a built bundle can run without a network.
  flagServer = createServer((_req, res) => {
    flagReads += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"enabled":true}');
  });
  await new Promise<void>((resolve) => flagServer.listen(0, '127.0.0.1', resolve));
  config = {
    gate: gateConfig({ roomId: 'bundle-room' }),
    jwks: jwksOf([room.key]),
    flagUrl: 'https://wr.example.com/room-flag.json',
  };
  built = await buildViewerRequest({ config, outdir });
});

afterAll(async () => {
  flagServer.closeAllConnections();
  await new Promise((resolve) => flagServer.close(resolve));
  await rm(outdir, { recursive: true, force: true });
});

describe('buildViewerRequest', () => {
  it('bundles the viewer-request function well under the 1 MB Lambda@Edge limit', () => {
    // Assess
    console.info(
      `viewer-request.mjs: ${built.bytes} bytes, ${built.gzipBytes} bytes gzipped; largest inputs: ${built.inputs
        .slice(0, 4)
        .map((i) => `${i.path} ${i.bytes}`)
        .join(', ')}`,
    );
    expect(built.bytes).toBeLessThan(EDGE_VIEWER_PACKAGE_LIMIT_BYTES);
    expect(built.gzipBytes).toBeLessThan(built.bytes);
  });

  it('refuses a config without the pass lifetime, before writing anything', async () => {
    const { passTtlSeconds: _ttl, ...gate } = config.gate;

    await expect(
      buildViewerRequest({ config: { ...config, gate }, outdir: join(outdir, 'no-ttl') }),
    ).rejects.toThrow(/at gate.passTtlSeconds/);
  });

  it('refuses a config whose flag URL is plain http to another machine', async () => {
    const bad = { ...config, flagUrl: 'http://wr.example.com/flag.json' };

    await expect(buildViewerRequest({ config: bad, outdir })).rejects.toThrow(/flagUrl/);
  });

  it('produces a module whose handler gates with the baked config and keys', async () => {
    // Prepare
    const { port } = flagServer.address() as AddressInfo;
    const localDir = join(outdir, 'local');
    const local = await buildViewerRequest({
      config: { ...config, flagUrl: `http://127.0.0.1:${port}/room-flag.json` },
      outdir: localDir,
    });
    const mod = (await import(pathToFileURL(local.outfile).href)) as {
      handler: (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;
    };
    const pass = await signPass(room.key, {
      roomId: 'bundle-room',
      mainOrigin: 'https://shop.example.com',
      sessionId: 'session-1',
      issuedAt: Math.floor(Date.now() / 1000),
      ttlSeconds: 600,
      jti: 'pass-1',
    });

    // Act
    const withoutPass = await mod.handler(viewerRequestEvent({ uri: '/sale' }));
    const withPass = await mod.handler(
      viewerRequestEvent({ uri: '/sale', cookies: [`wr_pass=${pass}`] }),
    );

    // Assess
    expect(flagReads).toBe(1);
    expect(withoutPass).toMatchObject({ status: '302' });
    expect(withPass).toMatchObject({ uri: '/sale', method: 'GET' });
  });
});

/** What the CDK app bakes (cdk/stacks/waiting-room-stack.ts `edgeConfigFor`): no origin, no key. */
const SAME_ORIGIN_CONFIG = {
  gate: {
    roomId: 'bundle-room',
    waitingRoomUrl: '/waiting-room/',
    ungatedPaths: ['/waiting-room/', '/.well-known/', '/__room/'],
    defaultEnabled: true,
    flagTtlMs: 5000,
    passTtlSeconds: 1200,
  },
  jwksUrl: '/.well-known/jwks.json',
  flagUrl: '/__room/flag.json',
};

type Handler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;

describe('a bundle built with the same-origin config', () => {
  let distribution: Server;
  let host: string;
  let handler: Handler;
  const fetched: string[] = [];

  beforeAll(async () => {
    // Stands in for the distribution: the room's JWKS and flag, on the gate's own origin.
    distribution = createServer((req, res) => {
      const body =
        req.url === '/.well-known/jwks.json'
          ? JSON.stringify(jwksOf([room.key]))
          : req.url === '/__room/flag.json'
            ? '{"enabled":true}'
            : undefined;
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => distribution.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(distribution.address() as AddressInfo).port}`;
    // The bundle reads https://<Host>/..., as on CloudFront; this server speaks plain http, so
    // the fetch the bundle calls takes those https URLs to it. Nothing else may be fetched.
    const loopbackFetch = globalThis.fetch;
    vi.stubGlobal('fetch', (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      fetched.push(url);
      if (!url.startsWith(`https://${host}/`)) throw new Error(`unexpected fetch of ${url}`);
      return loopbackFetch(`http://${url.slice('https://'.length)}`, init);
    });
    const sameOrigin = await buildViewerRequest({
      config: SAME_ORIGIN_CONFIG,
      outdir: join(outdir, 'same-origin'),
    });
    console.info(
      `same-origin viewer-request.mjs: ${sameOrigin.bytes} bytes, ${sameOrigin.gzipBytes} bytes gzipped`,
    );
    ({ handler } = (await import(pathToFileURL(sameOrigin.outfile).href)) as { handler: Handler });
  });

  afterAll(async () => {
    vi.unstubAllGlobals();
    distribution.closeAllConnections();
    await new Promise((resolve) => distribution.close(resolve));
  });

  it('lets a real pass in the cookie through, with the keys read from the request origin', async () => {
    // Prepare
    const pass = await signPass(room.key, {
      roomId: 'bundle-room',
      mainOrigin: `https://${host}`,
      sessionId: 'session-1',
      issuedAt: Math.floor(Date.now() / 1000),
      ttlSeconds: 600,
      jti: 'pass-1',
    });
    const event = viewerRequestEvent({ host, uri: '/sale', cookies: [`wr_pass=${pass}`] });

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toBe(event.Records[0]?.cf.request);
    expect(fetched.sort()).toEqual([
      `https://${host}/.well-known/jwks.json`,
      `https://${host}/__room/flag.json`,
    ]);
  });

  it('sends a visitor without a pass to the waiting room on the request origin', async () => {
    const result = await handler(viewerRequestEvent({ host, uri: '/sale', querystring: 'seat=4' }));

    expect(result).toMatchObject({
      status: '302',
      headers: {
        location: [
          { key: 'Location', value: `https://${host}/waiting-room/?return=%2Fsale%3Fseat%3D4` },
        ],
      },
    });
  });

  it('sends a pass issued for another origin to the waiting room', async () => {
    const pass = await signPass(room.key, {
      roomId: 'bundle-room',
      mainOrigin: 'https://shop.example.com',
      sessionId: 'session-2',
      issuedAt: Math.floor(Date.now() / 1000),
      ttlSeconds: 600,
      jti: 'pass-2',
    });

    const result = await handler(
      viewerRequestEvent({ host, uri: '/sale', cookies: [`wr_pass=${pass}`] }),
    );

    expect(result).toMatchObject({ status: '302' });
  });

  it('sends a pass signed by the room key that outlasts the baked lifetime to the waiting room', async () => {
    // Prepare: a minute longer than the 1200 s baked in, and a control of exactly 1200 s.
    const now = Math.floor(Date.now() / 1000);
    const lasting = (seconds: number) =>
      signedClaims(room.key, {
        iss: 'bundle-room',
        aud: `https://${host}`,
        sub: 'session-3',
        jti: 'pass-3',
        iat: now - 10,
        exp: now - 10 + seconds,
      });
    const longLived = await lasting(SAME_ORIGIN_CONFIG.gate.passTtlSeconds + 60);
    const exact = viewerRequestEvent({
      host,
      uri: '/sale',
      cookies: [`wr_pass=${await lasting(SAME_ORIGIN_CONFIG.gate.passTtlSeconds)}`],
    });

    // Act
    const refused = await handler(
      viewerRequestEvent({ host, uri: '/sale', cookies: [`wr_pass=${longLived}`] }),
    );
    const taken = await handler(exact);

    // Assess
    expect(refused).toMatchObject({ status: '302' });
    expect(taken).toBe(exact.Records[0]?.cf.request);
  });

  it('answers 400 to a request without a Host header', async () => {
    const result = await handler(viewerRequestEvent({ host: null, uri: '/sale' }));

    expect(result).toMatchObject({ status: '400' });
  });
});
