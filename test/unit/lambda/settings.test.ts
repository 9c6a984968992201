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
