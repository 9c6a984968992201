import { generateKeyPairSync } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readJwksDocument } from '../../../edge/jwks-document.ts';
import { jwksOf } from '../../../functions/core/tokens.ts';
import { type RoomKeys, roomKeys } from './fixtures.ts';

let server: Server | undefined;
let room: RoomKeys;

beforeAll(async () => {
  room = await roomKeys();
});

async function serve(listener: RequestListener): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/.well-known/jwks.json`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

function json(status: number, body: unknown): RequestListener {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

describe('readJwksDocument', () => {
  it("returns the room's public keys", async () => {
    const url = await serve(json(200, jwksOf([room.key])));

    const jwks = await readJwksDocument(url);

    expect(jwks).toEqual(jwksOf([room.key]));
  });

  it('drops members a verifier does not need', async () => {
    const jwk = { ...room.key.publicJwk, x5u: 'https://evil.example/cert', note: 'hi' };
    const url = await serve(json(200, { keys: [jwk] }));

    const jwks = await readJwksDocument(url);

    expect(Object.keys(jwks.keys[0] ?? {}).sort()).toEqual([
      'alg',
      'crv',
      'kid',
      'kty',
      'use',
      'x',
      'y',
    ]);
  });

  it('refuses a key set that holds a private key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const url = await serve(json(200, { keys: [privateKey.export({ format: 'jwk' })] }));

    await expect(readJwksDocument(url)).rejects.toThrow(/holds a private key/);
  });

  it('refuses an empty key set', async () => {
    const url = await serve(json(200, { keys: [] }));

    await expect(readJwksDocument(url)).rejects.toThrow(/at least one public key/);
  });

  it('refuses a document that is not a key set', async () => {
    const url = await serve(json(200, { enabled: true }));

    await expect(readJwksDocument(url)).rejects.toThrow(/not a set of EC P-256 public keys/);
  });

  it('rejects on an error status', async () => {
    const url = await serve(json(404, { message: 'not found' }));

    await expect(readJwksDocument(url)).rejects.toThrow(/answered 404/);
  });

  it('does not follow a redirect', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(302, { location: 'https://evil.example/jwks.json' }).end();
    });

    await expect(readJwksDocument(url)).rejects.toThrow();
  });

  it('refuses a body over the cap even when it does not announce its length', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Chunked, no Content-Length: the cap has to hold while the body streams in.
      for (let i = 0; i < 40; i++) res.write(' '.repeat(1024));
      res.end('{"keys":[]}');
    });

    await expect(readJwksDocument(url)).rejects.toThrow(/larger than/);
  });

  it('gives up after the timeout when the source does not answer', async () => {
    const url = await serve(() => {
      // never answers
    });

    await expect(readJwksDocument(url, 50)).rejects.toThrow();
  });
});
