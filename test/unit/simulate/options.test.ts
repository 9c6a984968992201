/** The simulator's command line: defaults, and errors that say what is wrong. */
import { describe, expect, it } from 'vitest';
import { MAX_POW_COST } from '../../../functions/core/room-settings.ts';
import {
  defaultsFor,
  jwksUrlFor,
  OptionsError,
  parseSimulateArgs,
  REHEARSAL_DEFAULTS,
  rehearsalDefaultsFor,
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

  it("take the page's timeouts unless told otherwise", () => {
    expect(optionsOf([...BASE, '--users', '10'])).toMatchObject({
      replyTimeoutSeconds: 20,
      connectTimeoutSeconds: 10,
    });
    expect(
      optionsOf([...BASE, '--users', '10', '--reply-timeout', '90', '--connect-timeout=30']),
    ).toMatchObject({ replyTimeoutSeconds: 90, connectTimeoutSeconds: 30 });
    expect(errorOf([...BASE, '--users', '10', '--reply-timeout', '0'])).toBe(
      '--reply-timeout must be at least 1 (got "0")',
    );
  });

  it('read --burst, from none to everyone', () => {
    expect(optionsOf([...BASE, '--users', '10'])).toMatchObject({ burst: 0 });
    expect(optionsOf([...BASE, '--users', '10', '--burst', '4'])).toMatchObject({ burst: 4 });
    expect(optionsOf([...BASE, '--users', '10', '--burst=10'])).toMatchObject({ burst: 10 });
    expect(errorOf([...BASE, '--users', '10', '--burst', '11'])).toBe(
      '--burst must be a whole number from 0 to --users (10) (got 11)',
    );
    expect(errorOf([...BASE, '--users', '10', '--burst', '-1'])).toBe(
      '--burst must be at least 0 (got "-1")',
    );
  });

  it('read a rehearsal: no url, the room settings, and the rehearsal defaults', () => {
    // Act
    const bare = parseSimulateArgs(['--rehearsal', '--users', '1000']);
    const given = parseSimulateArgs([
      '--rehearsal',
      '--users',
      '1000',
      '--burst',
      '600',
      '--faults',
      'cold-start,clock-skew=50',
      '--rate',
      '1200',
      '--churn',
      '0',
      '--room-log',
      'out/room.log',
    ]);

    // Assess
    if (bare.help || !bare.rehearsal || given.help || !given.rehearsal) {
      throw new Error('expected a rehearsal');
    }
    expect(bare.options).toBeNull();
    expect(rehearsalDefaultsFor(bare.rehearsal)).toMatchObject({
      options: { users: 1000, burst: 200, churn: REHEARSAL_DEFAULTS.churn, rampSeconds: 10 },
      room: { faults: 'realistic', ratePerMinute: 6000, roomLogFile: null },
    });
    const resolved = rehearsalDefaultsFor(given.rehearsal, 'ws://127.0.0.1:4321/ws');
    expect(resolved).toMatchObject({
      options: {
        url: 'ws://127.0.0.1:4321/ws',
        jwksUrl: 'http://127.0.0.1:4321/.well-known/jwks.json',
        burst: 600,
        churn: 0,
      },
      room: {
        faults: 'cold-start,clock-skew=50',
        ratePerMinute: 1200,
        roomLogFile: 'out/room.log',
      },
    });
    expect(parseSimulateArgs(['--rehearsal', '--users', '5', '--faults', 'none'])).toMatchObject({
      rehearsal: { faults: '' },
    });
  });

  it('refuse a rehearsal with a url, an unknown fault, or rehearsal options without --rehearsal', () => {
    expect(errorOf(['--rehearsal', ...BASE, '--users', '5'])).toContain(
      '--url is not for --rehearsal',
    );
    expect(errorOf(['--rehearsal', '--users', '5', '--faults', 'gremlins'])).toContain(
      '--faults: unknown fault "gremlins"',
    );
    expect(errorOf(['--rehearsal', '--users', '5', '--faults', 'cold-start=0'])).toContain(
      '--faults: cold-start=0',
    );
    expect(errorOf(['--rehearsal=yes', '--users', '5'])).toContain('--rehearsal takes no value');
    expect(errorOf(['--rehearsal'])).toContain('--users is required');
    expect(errorOf([...BASE, '--users', '5', '--faults', 'realistic'])).toBe(
      '--faults is for --rehearsal only',
    );
    expect(errorOf([...BASE, '--users', '5', '--rate', '60'])).toBe(
      '--rate is for --rehearsal only',
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
