import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readSettings, SettingsError } from '../../../functions/lambda/settings.ts';

const ENV = {
  WR_TABLE_NAME: 'room-table',
  WR_ROOM_ID: 'launch-room',
  WR_MAIN_ORIGIN: 'https://shop.example.com',
  WR_CONFIG_PREFIX: '/waiting-room/config/',
  WR_SIGNING_KEY_PARAMETER: '/waiting-room/signing-key',
  WR_MANAGEMENT_ENDPOINT: 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live',
  WR_PASS_TTL_SECONDS: '900',
  WR_ABANDON_AFTER_SECONDS: '60',
  WR_TICK_MS: '500',
  WR_POSITION_BUDGET_PER_SECOND: '2000',
};

describe('Lambda settings', () => {
  it('reads and converts every setting asked for', () => {
    // Prepare
    const names = [
      'tableName',
      'roomId',
      'mainOrigin',
      'configPrefix',
      'signingKeyParameter',
      'managementEndpoint',
      'passTtlSeconds',
      'abandonAfterSeconds',
      'tickMs',
      'positionBudgetPerSecond',
    ] as const;

    // Act
    const settings = readSettings(names, ENV);

    // Assess
    expect(settings).toEqual({
      tableName: 'room-table',
      roomId: 'launch-room',
      mainOrigin: 'https://shop.example.com',
      configPrefix: '/waiting-room/config/',
      signingKeyParameter: '/waiting-room/signing-key',
      managementEndpoint: ENV.WR_MANAGEMENT_ENDPOINT,
      passTtlSeconds: 900,
      abandonAfterSeconds: 60,
      tickMs: 500,
      positionBudgetPerSecond: 2000,
    });
  });

  it('reads only what it is asked for', () => {
    // Prepare
    const env = { WR_TABLE_NAME: 'room-table', WR_ROOM_ID: 'room' };

    // Act
    const settings = readSettings(['tableName', 'roomId'], env);

    // Assess
    expect(settings).toEqual({ tableName: 'room-table', roomId: 'room' });
  });

  it('falls back to the defaults of the optional settings', () => {
    // Prepare
    const env = {};

    // Act
    const settings = readSettings(
      ['configPrefix', 'passTtlSeconds', 'abandonAfterSeconds', 'tickMs'],
      env,
    );

    // Assess
    expect(settings).toEqual({
      configPrefix: '/waiting-room/config/',
      passTtlSeconds: 1200,
      abandonAfterSeconds: 120,
      tickMs: 1000,
    });
  });

  it('takes plain http endpoints on loopback only, where start:aws-local serves its stand-ins', () => {
    // Prepare
    const env = {
      ...ENV,
      WR_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:41235/live',
    };

    // Act
    const settings = readSettings(['managementEndpoint'], env);

    // Assess
    expect(settings).toEqual({
      managementEndpoint: env.WR_MANAGEMENT_ENDPOINT,
    });
  });

  it('names a required variable that is missing', () => {
    // Prepare
    const env = { ...ENV, WR_TABLE_NAME: '  ' };

    // Act
    const reading = () => readSettings(['roomId', 'tableName'], env);

    // Assess
    expect(reading).toThrow(new SettingsError('WR_TABLE_NAME', 'must be set'));
  });

  it.each([
    ['WR_TICK_MS', 'fast', 'must be a whole number'],
    ['WR_MAIN_ORIGIN', 'https://shop.example.com/path', 'must be an origin only'],
    ['WR_MANAGEMENT_ENDPOINT', 'wss://a.execute-api.eu-west-1.amazonaws.com/live', 'https URL'],
    ['WR_MANAGEMENT_ENDPOINT', 'http://a.execute-api.eu-west-1.amazonaws.com/live', 'https URL'],
    ['WR_CONFIG_PREFIX', '/waiting-room/config', 'starts and ends with /'],
    ['WR_ROOM_ID', 'Launch Room', 'lowercase'],
  ])('names %s when its value %j is bad', (variable, value, reason) => {
    // Prepare
    const env = { ...ENV, [variable]: value };

    // Act
    const reading = () =>
      readSettings(['tickMs', 'mainOrigin', 'managementEndpoint', 'configPrefix', 'roomId'], env);

    // Assess
    expect(reading).toThrow(SettingsError);
    expect(reading).toThrow(new RegExp(`^${variable}: .*${reason}`));
  });
});

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }) as string;
const EC_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const RSA_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 });
const IDENTITY = ['identityPublicKey', 'identityJwksUrl', 'identityRequired'] as const;

describe('Lambda settings: identity tokens', () => {
  it('reads no key, no key set and not required when none is set', () => {
    // Prepare
    const env = {};

    // Act
    const settings = readSettings(IDENTITY, env);

    // Assess
    expect(settings).toEqual({
      identityPublicKey: null,
      identityJwksUrl: null,
      identityRequired: false,
    });
  });

  it.each([
    ['an EC P-256', EC_KEY.publicKey],
    ['an RSA 2048', RSA_KEY.publicKey],
  ])('takes %s public key given as PEM text, and requires tokens when told', (_, publicKey) => {
    // Prepare
    const env = { WR_IDENTITY_PUBLIC_KEY: spki(publicKey), WR_IDENTITY_REQUIRED: 'true' };

    // Act
    const settings = readSettings(IDENTITY, env);

    // Assess
    expect(settings.identityPublicKey).toBeInstanceOf(KeyObject);
    expect(settings.identityPublicKey?.equals(publicKey)).toBe(true);
    expect(settings.identityJwksUrl).toBeNull();
    expect(settings.identityRequired).toBe(true);
  });

  it('takes a PEM whose line breaks were written as \\n', () => {
    // Prepare
    const env = { WR_IDENTITY_PUBLIC_KEY: spki(EC_KEY.publicKey).replaceAll('\n', '\\n') };

    // Act
    const settings = readSettings(['identityPublicKey'], env);

    // Assess
    expect(settings.identityPublicKey?.equals(EC_KEY.publicKey)).toBe(true);
  });

  it.each([
    ['text that is no PEM', 'not a key', 'must be a PEM public key'],
    ['a private key', EC_KEY.privateKey.export({ type: 'pkcs8', format: 'pem' }), 'PEM public key'],
    [
      'a PEM public key that does not parse',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      'not a readable PEM public key',
    ],
    [
      'an EC key on another curve',
      spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      'EC P-256 or an RSA',
    ],
    [
      'an RSA key under 2048 bits',
      spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      '2048 bits or more',
    ],
    ['an Ed25519 key', spki(generateKeyPairSync('ed25519').publicKey), 'EC P-256 or an RSA'],
  ])('refuses %s as the public key, naming the variable', (_, value, reason) => {
    // Prepare
    const env = { WR_IDENTITY_PUBLIC_KEY: String(value) };

    // Act
    const reading = () => readSettings(IDENTITY, env);

    // Assess
    expect(reading).toThrow(SettingsError);
    expect(reading).toThrow(new RegExp(`^WR_IDENTITY_PUBLIC_KEY: .*${reason}`));
  });

  it('never repeats the value of a refused key in its error (it may be a private key)', () => {
    // Prepare
    const pem = EC_KEY.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const env = { WR_IDENTITY_PUBLIC_KEY: pem };

    // Act
    const reading = () => readSettings(IDENTITY, env);

    // Assess
    expect(reading).toThrow(
      new SettingsError(
        'WR_IDENTITY_PUBLIC_KEY',
        'must be a PEM public key (-----BEGIN PUBLIC KEY-----, SPKI)',
      ),
    );
  });

  it.each([
    'https://shop.example.com/.well-known/jwks.json',
    'http://127.0.0.1:41234/.well-known/site-jwks.json',
  ])('takes %s as the key set URL', (url) => {
    // Prepare
    const env = { WR_IDENTITY_JWKS_URL: url };

    // Act
    const settings = readSettings(IDENTITY, env);

    // Assess
    expect(settings).toEqual({
      identityPublicKey: null,
      identityJwksUrl: url,
      identityRequired: false,
    });
  });

  it.each([
    'http://shop.example.com/.well-known/jwks.json',
    'ftp://shop.example.com/jwks.json',
    'shop.example.com/jwks.json',
  ])('refuses %s as the key set URL, naming the variable', (url) => {
    // Prepare
    const env = { WR_IDENTITY_JWKS_URL: url };

    // Act
    const reading = () => readSettings(IDENTITY, env);

    // Assess
    expect(reading).toThrow(/^WR_IDENTITY_JWKS_URL: must be an https URL/);
  });

  it('refuses a key and a key set URL both set', () => {
    // Prepare
    const env = {
      WR_IDENTITY_PUBLIC_KEY: spki(EC_KEY.publicKey),
      WR_IDENTITY_JWKS_URL: 'https://shop.example.com/.well-known/jwks.json',
    };

    // Act
    const reading = () => readSettings(['identityPublicKey'], env);

    // Assess
    expect(reading).toThrow(/^WR_IDENTITY_JWKS_URL: set either it or WR_IDENTITY_PUBLIC_KEY/);
  });

  it('refuses tokens required with nothing to check them with', () => {
    // Prepare
    const env = { WR_IDENTITY_REQUIRED: 'true' };

    // Act
    const reading = () => readSettings(['identityRequired'], env);

    // Assess
    expect(reading).toThrow(/^WR_IDENTITY_REQUIRED: true needs WR_IDENTITY_PUBLIC_KEY or/);
  });

  it('refuses a required flag that is neither true nor false', () => {
    // Prepare
    const env = { WR_IDENTITY_REQUIRED: 'yes', WR_IDENTITY_JWKS_URL: 'https://a.example/j' };

    // Act
    const reading = () => readSettings(IDENTITY, env);

    // Assess
    expect(reading).toThrow(/^WR_IDENTITY_REQUIRED: must be true or false/);
  });
});
