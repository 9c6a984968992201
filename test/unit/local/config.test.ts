import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, readLocalConfig } from '../../../local/config.ts';

describe('readLocalConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    // Act
    const config = readLocalConfig({});

    // Assess
    expect(config).toMatchObject({
      port: 8080,
      enabled: true,
      admitPerMinute: 60,
      passTtlSeconds: 1200,
      abandonAfterSeconds: 120,
      tickMs: 1000,
      upstream: null,
      publicUrl: 'http://localhost:8080',
      keyFile: null,
      dataDir: resolve('data'),
    });
  });

  it("names the demo site's event by default, and no event when it guards an upstream", () => {
    // Act
    const demo = readLocalConfig({});
    const upstream = readLocalConfig({ WR_UPSTREAM: 'http://127.0.0.1:3000' });

    // Assess
    expect(demo.branding).toEqual({
      roomName: 'Aurora Live',
      eventText: '',
      eventLogo: '',
      brandColor: '',
    });
    expect(upstream.branding.roomName).toBe('');
  });

  it("reads the organiser's branding of the page", () => {
    // Act
    const config = readLocalConfig({
      WR_EVENT_NAME: '  Spring sale ',
      WR_EVENT_TEXT: 'Doors open at 10:00.',
      WR_EVENT_LOGO: '/waiting-room/brand/logo.svg',
      WR_BRAND_COLOR: '#0B7A75',
    });

    // Assess
    expect(config.branding).toEqual({
      roomName: 'Spring sale',
      eventText: 'Doors open at 10:00.',
      eventLogo: '/waiting-room/brand/logo.svg',
      brandColor: '#0b7a75',
    });
  });

  it.each([
    ['WR_EVENT_NAME', 'x'.repeat(121), 'must be at most 120 characters'],
    ['WR_EVENT_TEXT', 'Sale <script>alert(1)</script>', 'must be plain text (no HTML tags)'],
    [
      'WR_EVENT_LOGO',
      'https://cdn.example.com/logo.png',
      "must be a path on the waiting room's own origin",
    ],
    [
      'WR_EVENT_LOGO',
      `data:image/png;base64,${'A'.repeat(70_000)}`,
      'must be at most 65536 characters',
    ],
    ['WR_BRAND_COLOR', 'teal', 'must be a hex colour'],
  ])('stops the start on a bad %s, naming it', (variable, value, message) => {
    // Act
    const read = () => readLocalConfig({ [variable]: value });

    // Assess
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(`${variable}: ${message}`);
  });

  it('keeps the room in memory only when WR_DATA_DIR is :memory:, and resolves a directory otherwise', () => {
    // Act
    const inMemory = readLocalConfig({ WR_DATA_DIR: ':memory:' });
    const relative = readLocalConfig({ WR_DATA_DIR: 'rooms/launch' });

    // Assess
    expect(inMemory.dataDir).toBeNull();
    expect(relative.dataDir).toBe(resolve('rooms/launch'));
  });

  it('reads every variable', () => {
    // Act
    const config = readLocalConfig({
      PORT: '9000',
      WR_ENABLED: 'false',
      WR_ADMIT_PER_MINUTE: '0',
      WR_PASS_TTL_SECONDS: '600',
      WR_ABANDON_AFTER_SECONDS: '30',
      WR_TICK_MS: '250',
      WR_UPSTREAM: 'http://127.0.0.1:3000',
      WR_PUBLIC_URL: 'https://shop.example.com',
      WR_KEY_FILE: '/tmp/key.pem',
    });

    // Assess
    expect(config).toMatchObject({
      port: 9000,
      enabled: false,
      admitPerMinute: 0,
      passTtlSeconds: 600,
      abandonAfterSeconds: 30,
      tickMs: 250,
      upstream: 'http://127.0.0.1:3000',
      publicUrl: 'https://shop.example.com',
      keyFile: '/tmp/key.pem',
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['WR_ENABLED', 'maybe'],
    ['WR_ADMIT_PER_MINUTE', '-5'],
    ['WR_ADMIT_PER_MINUTE', '1.5'],
    ['WR_PASS_TTL_SECONDS', '5'],
    ['WR_ABANDON_AFTER_SECONDS', '0'],
    ['WR_TICK_MS', '10'],
    ['WR_UPSTREAM', 'not a url'],
    ['WR_UPSTREAM', 'ftp://example.com'],
    ['WR_PUBLIC_URL', 'https://shop.example.com/path'],
  ])('stops on %s=%s with a message naming the variable', (name, value) => {
    // Act
    const read = () => readLocalConfig({ [name]: value });

    // Assess
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(new RegExp(`^${name}: `));
  });
});

describe('identity token settings', () => {
  it("reads the site's key from WR_IDENTITY_PUBLIC_KEY_FILE, or a JWKS URL, and refuses what cannot work, naming the variable", async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'wr-config-'));
    const good = join(dir, 'site.pem');
    const bad = join(dir, 'bad.pem');
    writeFileSync(
      good,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }),
    );
    writeFileSync(bad, 'not a key');

    expect(readLocalConfig({})).toMatchObject({
      identityPublicKeyPem: null,
      identityJwksUrl: null,
      identityRequired: false,
    });
    expect(
      readLocalConfig({ WR_IDENTITY_PUBLIC_KEY_FILE: good, WR_IDENTITY_REQUIRED: 'true' }),
    ).toMatchObject({
      identityPublicKeyPem: expect.stringContaining('BEGIN PUBLIC KEY'),
      identityRequired: true,
    });
    expect(
      readLocalConfig({ WR_IDENTITY_JWKS_URL: 'https://shop.example.com/jwks.json' }),
    ).toMatchObject({
      identityJwksUrl: 'https://shop.example.com/jwks.json',
    });
    expect(() => readLocalConfig({ WR_IDENTITY_PUBLIC_KEY_FILE: bad })).toThrow(
      /^WR_IDENTITY_PUBLIC_KEY_FILE: .*PEM public key/,
    );
    expect(() =>
      readLocalConfig({ WR_IDENTITY_PUBLIC_KEY_FILE: join(dir, 'missing.pem') }),
    ).toThrow(/^WR_IDENTITY_PUBLIC_KEY_FILE: cannot read/);
    expect(() => readLocalConfig({ WR_IDENTITY_JWKS_URL: 'http://shop.example.com/jwks' })).toThrow(
      /^WR_IDENTITY_JWKS_URL: must be an https URL/,
    );
    expect(() =>
      readLocalConfig({
        WR_IDENTITY_PUBLIC_KEY_FILE: good,
        WR_IDENTITY_JWKS_URL: 'https://a.example/j',
      }),
    ).toThrow(/^WR_IDENTITY_JWKS_URL: set either/);
    expect(() => readLocalConfig({ WR_IDENTITY_REQUIRED: 'true' })).toThrow(
      /^WR_IDENTITY_REQUIRED: needs/,
    );
  });
});
