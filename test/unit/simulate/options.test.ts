/** The simulator's command line: defaults, and errors that say what is wrong. */
import { describe, expect, it } from 'vitest';
import { MAX_POW_COST } from '../../../functions/core/room-settings.ts';
import {
  defaultsFor,
  jwksUrlFor,
  OptionsError,
  parseSimulateArgs,
  sourceAddressesFor,
} from '../../../tools/simulate/options.ts';

function optionsOf(argv: string[]) {
  const parsed = parseSimulateArgs(argv);
  if (parsed.help) throw new Error('expected options, got --help');
  return parsed.options;
}

function errorOf(argv: string[]): string {
  try {
    parseSimulateArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(OptionsError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

const BASE = ['--url', 'ws://127.0.0.1:8080/ws'];

describe('the simulator options', () => {
  it('fill in defaults around the url and the number of users', () => {
    // Act
    const options = optionsOf([...BASE, '--users', '30000', '--seed', '7']);

    // Assess
    expect(options).toMatchObject({
      url: 'ws://127.0.0.1:8080/ws',
      users: 30000,
      rampSeconds: 10,
      churn: 0,
      abandon: 0,
      durationSeconds: 600,
      workers: 4,
      jwksUrl: 'http://127.0.0.1:8080/.well-known/jwks.json',
      sourceAddresses: 2,
      seed: 7,
      progress: 'auto',
    });
  });

  it('read every option in both --name value and --name=value forms', () => {
    // Act
    const options = optionsOf([
      '--url=wss://room.example.com/ws',
      '--users=10',
      '--ramp',
      '2.5',
      '--churn',
      '0.1',
      '--abandon=0.05',
      '--duration',
      '30',
      '--json',
      'out/r.json',
      '--html',
      'out/r.html',
      '--workers',
      '0',
      '--jwks',
      'https://keys.example.com/jwks.json',
    ]);

    // Assess
    expect(options).toMatchObject({
      url: 'wss://room.example.com/ws',
      users: 10,
      rampSeconds: 2.5,
      churn: 0.1,
      abandon: 0.05,
      durationSeconds: 30,
      jsonFile: 'out/r.json',
      htmlFile: 'out/r.html',
      workers: 0,
      jwksUrl: 'https://keys.example.com/jwks.json',
    });
  });

  it('refuse a url that is not ws:// or wss://', () => {
    expect(errorOf(['--url', 'http://127.0.0.1:8080/ws', '--users', '5'])).toBe(
      '--url must be a ws:// or wss:// URL (the simulator only speaks WebSocket) (got "http://127.0.0.1:8080/ws")',
    );
  });

  it('refuse a url that is not a url', () => {
    expect(errorOf(['--url', 'localhost:8080', '--users', '5'])).toContain('--url must be a ws://');
    expect(errorOf(['--url', 'nonsense', '--users', '5'])).toContain('must be an absolute URL');
  });

  it('refuse a negative number of users, given either way', () => {
    expect(errorOf([...BASE, '--users', '-5'])).toBe('--users must be at least 1 (got "-5")');
    expect(errorOf([...BASE, '--users=-5'])).toBe('--users must be at least 1 (got "-5")');
  });

  it('refuse users that are not a whole number', () => {
    expect(errorOf([...BASE, '--users', '2.5'])).toBe('--users must be a whole number (got "2.5")');
    expect(errorOf([...BASE, '--users', 'many'])).toBe(
      '--users must be a whole number (got "many")',
    );
  });

  it('refuse a churn share above 1', () => {
    expect(errorOf([...BASE, '--users', '5', '--churn', '1.5'])).toBe(
      '--churn must be a share between 0 and 1 (got "1.5")',
    );
  });

  it('refuse churn and abandonment that add up to more than everyone', () => {
    expect(errorOf([...BASE, '--users', '5', '--churn', '0.7', '--abandon', '0.4'])).toBe(
      '--churn and --abandon together must not exceed 1 (got 0.7 + 0.4)',
    );
  });

  it('name what is missing, unknown or repeated', () => {
    expect(errorOf(['--users', '5'])).toContain('--url is required');
    expect(errorOf([...BASE])).toContain('--users is required');
    expect(errorOf([...BASE, '--users', '5', '--speed', '9'])).toBe(
      'unknown option --speed (see --help)',
    );
    expect(errorOf([...BASE, '--users', '5', '--users', '6'])).toBe('--users is given twice');
    expect(errorOf([...BASE, '--users'])).toBe('--users needs a value');
  });

  it('check programmatic options the same way', () => {
    expect(() => defaultsFor({ url: 'ftp://x/ws', users: 1 })).toThrow(OptionsError);
    expect(() => defaultsFor({ url: 'ws://x/ws', users: -1 })).toThrow('--users must be');
    expect(() => defaultsFor({ url: 'ws://x/ws', users: 1, churn: 2 })).toThrow(
      '--churn must be a share between 0 and 1 (got 2)',
    );
  });

  it('read --prequeue and --pow with or without their values', () => {
    // Act
    const bare = optionsOf([...BASE, '--users', '10', '--prequeue', '--pow']);
    const valued = optionsOf([
      ...BASE,
      '--users',
      '10',
      '--prequeue',
      '30',
      '--pow',
      '500',
      '--replay',
      '0.1',
    ]);

    // Assess
    expect(bare).toMatchObject({
      prequeue: true,
      opensAfterSeconds: null,
      pow: true,
      powCost: null,
    });
    expect(valued).toMatchObject({
      prequeue: true,
      opensAfterSeconds: 30,
      pow: true,
      powCost: 500,
      replay: 0.1,
    });
    expect(optionsOf([...BASE, '--users', '1'])).toMatchObject({ prequeue: false, pow: false });
  });

  it('refuse a replay without --pow, and setting the opening or the cost of a remote room', () => {
    // Act
    const remote = ['--url', 'wss://room.example.com/ws', '--users', '10'];

    // Assess
    expect(errorOf([...BASE, '--users', '10', '--replay', '0.1'])).toContain(
      '--replay needs --pow',
    );
    expect(errorOf([...remote, '--prequeue', '30'])).toContain('only a room on this machine');
    expect(errorOf([...remote, '--pow', '500'])).toContain('--pow COST sets the cost');
    expect(optionsOf([...remote, '--prequeue', '--pow'])).toMatchObject({
      prequeue: true,
      pow: true,
    });
    expect(errorOf([...BASE, '--users', '10', '--prequeue', '0'])).toContain('--prequeue');
    // The room's own bound on the cost (its admin endpoint refuses more).
    expect(errorOf([...BASE, '--users', '10', '--pow', String(MAX_POW_COST + 1)])).toContain(
      `--pow must be at most ${MAX_POW_COST}`,
    );
  });

  it('answer --help with the usage', () => {
    expect(parseSimulateArgs(['--help'])).toEqual({ help: true });
  });

  it('derive the JWKS address from the WebSocket address', () => {
    expect(jwksUrlFor('wss://room.example.com/ws')).toBe(
      'https://room.example.com/.well-known/jwks.json',
    );
    expect(jwksUrlFor('ws://127.0.0.1:9000/ws')).toBe(
      'http://127.0.0.1:9000/.well-known/jwks.json',
    );
  });

  it('spread sockets over loopback source addresses only for a room on this machine', () => {
    expect(sourceAddressesFor('ws://127.0.0.1:8080/ws', 3)).toEqual([
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
    ]);
    expect(sourceAddressesFor('ws://localhost:8080/ws', 2)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(sourceAddressesFor('ws://127.0.0.1:8080/ws', 1)).toEqual([]);
    expect(sourceAddressesFor('wss://room.example.com/ws', 3)).toEqual([]);
    expect(sourceAddressesFor('ws://10.0.0.5:8080/ws', 3)).toEqual([]);
    expect(sourceAddressesFor('ws://[::1]:8080/ws', 3)).toEqual([]);
  });
});
