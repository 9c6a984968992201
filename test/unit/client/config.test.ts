import { describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_CONFIG,
  displayHost,
  type FetchJson,
  loadConfig,
  parseConfig,
  readReturnPath,
  resolveSocketUrl,
} from '../../../client/src/lib/config.ts';

const page = { protocol: 'https:', host: 'queue.example.com' };

describe('parseConfig', () => {
  it('reads a complete config', () => {
    // Prepare
    const body = {
      wsUrl: 'wss://ws.example.com/prod',
      mainOrigin: 'https://shop.example.com',
      roomName: 'Spring sale',
    };

    // Act
    const config = parseConfig(body);

    // Assess
    expect(config).toEqual(body);
  });

  it('keeps the good fields when one is wrong', () => {
    // Prepare
    const body = { wsUrl: 42, mainOrigin: 'https://shop.example.com', roomName: '  Spring sale ' };

    // Act
    const config = parseConfig(body);

    // Assess
    expect(config).toEqual({
      wsUrl: null,
      mainOrigin: 'https://shop.example.com',
      roomName: 'Spring sale',
    });
  });

  it('gives the defaults for a body that is not an object', () => {
    // Prepare, Act
    const config = parseConfig('nope');

    // Assess
    expect(config).toEqual(DEFAULT_CONFIG);
  });
});

describe('loadConfig', () => {
  it('fetches the config without the HTTP cache', async () => {
    // Prepare
    const fetchJson = vi.fn<FetchJson>(async () => ({
      ok: true,
      json: async () => ({ wsUrl: null, mainOrigin: 'https://shop.example.com', roomName: 'Sale' }),
    }));

    // Act
    const config = await loadConfig(fetchJson, '/waiting-room/config.json');

    // Assess
    expect(config.roomName).toBe('Sale');
    expect(fetchJson).toHaveBeenCalledWith(
      '/waiting-room/config.json',
      expect.objectContaining({ cache: 'no-store' }),
    );
  });

  it('falls back to the defaults when the fetch fails', async () => {
    // Prepare
    const fetchJson: FetchJson = async () => {
      throw new TypeError('Failed to fetch');
    };

    // Act
    const config = await loadConfig(fetchJson, '/waiting-room/config.json');

    // Assess
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it('falls back to the defaults on a 404', async () => {
    // Prepare
    const fetchJson: FetchJson = async () => ({ ok: false, json: async () => ({}) });

    // Act
    const config = await loadConfig(fetchJson, '/waiting-room/config.json');

    // Assess
    expect(config).toEqual(DEFAULT_CONFIG);
  });

  it('falls back to the defaults when the server does not answer in time', async () => {
    // Prepare
    const fetchJson: FetchJson = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal.addEventListener('abort', () => reject(new Error('aborted')));
      });

    // Act
    const config = await loadConfig(fetchJson, '/waiting-room/config.json', 10);

    // Assess
    expect(config).toEqual(DEFAULT_CONFIG);
  });
});

describe('resolveSocketUrl', () => {
  it('uses wss on the same origin for an https page without a configured URL', () => {
    // Prepare, Act
    const url = resolveSocketUrl(DEFAULT_CONFIG, page);

    // Assess
    expect(url).toBe('wss://queue.example.com/ws');
  });

  it('uses ws on the same origin for an http page', () => {
    // Prepare, Act
    const url = resolveSocketUrl(DEFAULT_CONFIG, { protocol: 'http:', host: 'localhost:8080' });

    // Assess
    expect(url).toBe('ws://localhost:8080/ws');
  });

  it('uses the configured URL as given', () => {
    // Prepare
    const config = {
      ...DEFAULT_CONFIG,
      wsUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
    };

    // Act
    const url = resolveSocketUrl(config, page);

    // Assess
    expect(url).toBe('wss://abc.execute-api.eu-west-1.amazonaws.com/prod');
  });

  it('takes a configured path on the page origin', () => {
    // Prepare
    const config = { ...DEFAULT_CONFIG, wsUrl: '/socket' };

    // Act
    const url = resolveSocketUrl(config, page);

    // Assess
    expect(url).toBe('wss://queue.example.com/socket');
  });

  it('falls back to the same origin for a configured URL that is not a socket URL', () => {
    // Prepare
    const config = { ...DEFAULT_CONFIG, wsUrl: 'ftp://files.example.com/' };

    // Act
    const url = resolveSocketUrl(config, page);

    // Assess
    expect(url).toBe('wss://queue.example.com/ws');
  });
});

describe('readReturnPath', () => {
  it('passes the return parameter on as-is', () => {
    // Prepare, Act
    const path = readReturnPath('?return=%2Ftickets%3Fshow%3D42');

    // Assess
    expect(path).toBe('/tickets?show=42');
  });

  it('is / without a return parameter', () => {
    // Prepare, Act
    const paths = [readReturnPath(''), readReturnPath('?return=')];

    // Assess
    expect(paths).toEqual(['/', '/']);
  });
});

describe('displayHost', () => {
  it('shows the host of the main origin', () => {
    // Prepare, Act
    const host = displayHost('https://shop.example.com');

    // Assess
    expect(host).toBe('shop.example.com');
  });

  it('is null for an empty or unusable origin', () => {
    // Prepare, Act
    const hosts = [displayHost(''), displayHost('not a url')];

    // Assess
    expect(hosts).toEqual([null, null]);
  });
});
