import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { gateConfig, type RoomKeys, roomKeys } from './fixtures.ts';

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
