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
      eventText: 'Doors open at 10:00.\nOne order per visitor.',
      eventLogo: '/waiting-room/brand/logo.svg',
      brandColor: '#0b7a75',
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
      ...DEFAULT_CONFIG,
      wsUrl: null,
      mainOrigin: 'https://shop.example.com',
      roomName: 'Spring sale',
    });
  });

  it('takes an inline logo and writes a short colour out in full', () => {
    // Prepare
    const logo =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==';

    // Act
    const config = parseConfig({ eventLogo: logo, brandColor: '#E60' });

    // Assess
    expect(config.eventLogo).toBe(logo);
    expect(config.brandColor).toBe('#ee6600');
  });

  it.each([
    ['a logo on another origin', { eventLogo: 'https://evil.example/logo.png' }],
    ['a protocol-relative logo', { eventLogo: '//evil.example/logo.png' }],
    ['a script URL as the logo', { eventLogo: 'javascript:alert(1)' }],
    ['an HTML data URL as the logo', { eventLogo: 'data:text/html;base64,PGI+' }],
    ['a colour that is not hex', { brandColor: 'red; background: url(x)' }],
    ['HTML in the text', { eventText: '<img src=x onerror=alert(1)>' }],
    ['a text over 280 characters', { eventText: 'x'.repeat(281) }],
    ['a name over 120 characters', { roomName: 'x'.repeat(121) }],
    ['a name on two lines', { roomName: 'Spring\nsale' }],
  ])('drops %s and keeps the rest', (_case, bad) => {
    // Prepare
    const body = { mainOrigin: 'https://shop.example.com', roomName: 'Sale', ...bad };

    // Act
    const config = parseConfig(body);

    // Assess
    const field = Object.keys(bad)[0] as keyof typeof DEFAULT_CONFIG;
    expect(config[field]).toBe(DEFAULT_CONFIG[field]);
    expect(config.mainOrigin).toBe('https://shop.example.com');
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

describe('the identity token in the address', () => {
  it('is read from ?identity= and taken out of the address, the rest kept', async () => {
    const { readIdentity, withoutIdentity } = await import('../../../client/src/lib/config.ts');
    expect(readIdentity('?return=%2Ftickets&identity=abc.def.ghi')).toBe('abc.def.ghi');
    expect(readIdentity('?return=%2F')).toBeNull();
    expect(readIdentity('?identity=')).toBeNull();
    expect(
      withoutIdentity({
        pathname: '/waiting-room/',
        search: '?return=%2Ftickets&identity=abc',
        hash: '#x',
      }),
    ).toBe('/waiting-room/?return=%2Ftickets#x');
    expect(withoutIdentity({ pathname: '/waiting-room/', search: '?identity=abc', hash: '' })).toBe(
      '/waiting-room/',
    );
  });
});
