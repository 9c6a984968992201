import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readFlagDocument } from '../../../edge/flag-document.ts';

let server: Server | undefined;

async function serve(listener: RequestListener): Promise<string> {
  server = createServer(listener);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/room-flag.json`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

function json(status: number, body: string): RequestListener {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  };
}

describe('readFlagDocument', () => {
  it('returns true for {"enabled": true}', async () => {
    const url = await serve(json(200, '{"enabled":true}'));

    const enabled = await readFlagDocument(url);

    expect(enabled).toBe(true);
  });

  it('returns false for {"enabled": false}, ignoring other fields', async () => {
    const url = await serve(json(200, '{"enabled":false,"updatedAt":"2025-01-01T00:00:00Z"}'));

    const enabled = await readFlagDocument(url);

    expect(enabled).toBe(false);
  });

  it('rejects on an error status', async () => {
    const url = await serve(json(503, '{"enabled":false}'));

    await expect(readFlagDocument(url)).rejects.toThrow(/503/);
  });

  it('rejects a document that is not JSON', async () => {
    const url = await serve(json(200, '<html>'));

    await expect(readFlagDocument(url)).rejects.toThrow();
  });

  it('rejects a document whose enabled is not a boolean', async () => {
    const url = await serve(json(200, '{"enabled":"false"}'));

    await expect(readFlagDocument(url)).rejects.toThrow(/enabled/);
  });

  it('rejects an oversized document', async () => {
    const url = await serve(json(200, `{"enabled":true,"pad":"${'x'.repeat(10_000)}"}`));

    await expect(readFlagDocument(url)).rejects.toThrow(/larger/);
  });

  it('gives up after the timeout when the source does not answer', async () => {
    const url = await serve(() => {
      // never answers
    });

    await expect(readFlagDocument(url, 50)).rejects.toThrow();
  });
});
