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
