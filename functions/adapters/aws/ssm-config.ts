/**
 * The room configuration in SSM Parameter Store: `${prefix}enabled` (`true`/`false`) and
 * `${prefix}admit-per-minute` (a whole number >= 0), and the fair-launch settings
 * `${prefix}opens-at` (an ISO-8601 time with its zone, or `none`), `${prefix}pow-cost` (a whole
 * number, 0: off), `${prefix}message` and `${prefix}closed` (one line of text, or `none`): all
 * String parameters that operators change live (a String parameter cannot be empty, hence
 * `none`).
 *
 * {@link createSsmConfigSource} reads both with one GetParameters call and keeps the answer for
 * a short while (5 s by default), so a Lambda container asks SSM at most once per TTL however
 * many frames it handles. When a read fails, or a parameter is missing or holds a bad value, it
 * keeps the last good value of that setting. With none yet, it falls back to the room on (as
 * the gate does) and admission **paused** (0 per minute): a processor that cannot read the rate
 * must never admit faster than the operator may have asked, and a pause that lasts until SSM
 * answers again can be made up, an over-admission cannot. Failures are reported to `onError`.
 * A read that takes longer than `staleAfterMs` (SSM throttling: the SDK backs off for seconds)
 * does not hold up a caller that has an answer already: it gets that one while the read goes on,
 * so a throttled SSM never stalls the processor's tick.
 *
 * The fair-launch settings never stop the room: a fair-launch parameter that is missing (a
 * stack deployed before it existed) reads as its default, quietly (no schedule, no proof of
 * work, no message, open for sale); one that holds a bad value keeps its last good value, as
 * `enabled` and the rate do, else its default, and is reported. When SSM refuses the read
 * because of them (access denied: a policy written before they existed), `enabled` and the rate
 * are read alone and the fair-launch settings keep their last good values.
 */
import { GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Clock, ConfigSource, RoomConfig } from '../../core/ports.ts';
import {
  FAIR_LAUNCH_DEFAULTS,
  formatOpeningTime,
  isNone,
  isOpeningTime,
  isPowCost,
  MAX_POW_COST,
  NONE,
  operatorTextProblem,
  parseOpeningTime,
} from '../../core/room-settings.ts';
import { systemClock } from '../local/system-clock.ts';
import { defaultSsmClient } from './clients.ts';
import { valueWithin } from './concurrency.ts';

export const ENABLED_PARAMETER = 'enabled';
export const RATE_PARAMETER = 'admit-per-minute';
export const OPENS_AT_PARAMETER = 'opens-at';
export const POW_COST_PARAMETER = 'pow-cost';
export const MESSAGE_PARAMETER = 'message';
export const CLOSED_PARAMETER = 'closed';
/** Every parameter of the room config, by the setting it holds. */
export const CONFIG_PARAMETERS = {
  enabled: ENABLED_PARAMETER,
  admitPerMinute: RATE_PARAMETER,
  opensAt: OPENS_AT_PARAMETER,
  powCost: POW_COST_PARAMETER,
  message: MESSAGE_PARAMETER,
  closed: CLOSED_PARAMETER,
} as const satisfies Record<keyof RoomConfig, string>;
/** What the room runs with before any value was ever read. */
export const FALLBACK_ROOM_CONFIG: Required<RoomConfig> = {
  enabled: true,
  admitPerMinute: 0,
  ...FAIR_LAUNCH_DEFAULTS,
};
export const MAX_ADMIT_PER_MINUTE = 1_000_000;

type Setting = keyof RoomConfig;
/** The settings a missing parameter of which is no problem: it reads as its default. */
const FAIR_LAUNCH: readonly Setting[] = ['opensAt', 'powCost', 'message', 'closed'];

export interface SsmConfigSourceOptions {
  client?: SSMClient;
  /** Parameter name prefix, e.g. `/waiting-room/config/` (with its trailing slash). */
  prefix: string;
  /** How long an answer (or a failure) is kept before SSM is asked again. */
  ttlMs?: number;
  /** How long a caller with an older answer waits for a new read before it goes on with it. */
  staleAfterMs?: number;
  clock?: Clock;
  fallback?: RoomConfig;
  /**
   * The settings to start from, before SSM first answers (read once): the processor's are the
   * ones its predecessor mirrored onto the room state, so a new container whose first read
   * fails (throttled at a launch) goes on with them, not with the defaults, which would drop a
   * scheduled opening and its draw, proof of work and a closed sale.
   */
  seed?: () => Promise<RoomConfig | null>;
  onError?: (error: unknown) => void;
}

/** A parameter is missing or holds a value that is not a setting. */
export class RoomConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoomConfigError';
  }
}

export function createSsmConfigSource(options: SsmConfigSourceOptions): ConfigSource {
  const client = options.client ?? defaultSsmClient();
  const clock = options.clock ?? systemClock;
  const ttlMs = options.ttlMs ?? 5000;
  const staleAfterMs = options.staleAfterMs ?? 250;
  const fallback: Required<RoomConfig> = {
    ...FALLBACK_ROOM_CONFIG,
    ...(options.fallback ?? {}),
  } as Required<RoomConfig>;
  const settings = Object.keys(CONFIG_PARAMETERS) as Setting[];
  const nameOf = (setting: Setting) => `${options.prefix}${CONFIG_PARAMETERS[setting]}`;
  const lastGood: Partial<RoomConfig> = {};
  let cached: { config: RoomConfig; freshUntil: number } | undefined;
  let inFlight: Promise<RoomConfig> | undefined;

  async function read(names: Setting[]): Promise<Map<string | undefined, string | undefined>> {
    const { Parameters = [] } = await client.send(
      new GetParametersCommand({ Names: names.map(nameOf) }),
    );
    return new Map(Parameters.map((p) => [p.Name, p.Value]));
  }

  let seeded = options.seed === undefined;

  async function refresh(): Promise<RoomConfig> {
    const now = clock.now();
    if (!seeded) {
      seeded = true;
      try {
        Object.assign(lastGood, (await options.seed?.()) ?? {});
      } catch (error) {
        options.onError?.(error);
      }
    }
    try {
      let asked = settings;
      let values: Map<string | undefined, string | undefined>;
      try {
        values = await read(asked);
      } catch (error) {
        if (!isAccessDenied(error)) throw error;
        // Perhaps only the fair-launch parameters are denied: the room still runs on the others.
        options.onError?.(error);
        asked = settings.filter((setting) => !FAIR_LAUNCH.includes(setting));
        values = await read(asked);
      }
      const bad: string[] = [];
      for (const setting of asked) {
        const name = nameOf(setting);
        const raw = values.get(name);
        if (raw === undefined && FAIR_LAUNCH.includes(setting)) {
          // Not made yet (a stack deployed before it existed): the default, nothing to report.
          delete lastGood[setting];
          continue;
        }
        const value = PARSERS[setting](raw);
        if (value === undefined) {
          bad.push(`${name} (${describe(raw)})`);
        } else {
          (lastGood as Record<Setting, unknown>)[setting] = value;
        }
      }
      if (bad.length > 0) {
        options.onError?.(
          new RoomConfigError(`room config parameter not usable: ${bad.join(', ')}`),
        );
      }
    } catch (error) {
      options.onError?.(error);
    }
    const config = { ...fallback, ...lastGood };
    cached = { config, freshUntil: now + ttlMs };
    return config;
  }

  return {
    async get() {
      if (cached && clock.now() < cached.freshUntil) return { ...cached.config };
      inFlight ??= refresh().finally(() => {
        inFlight = undefined;
      });
      const stale = cached?.config;
      return { ...(stale ? await valueWithin(inFlight, staleAfterMs, stale) : await inFlight) };
    },
  };
}

function isAccessDenied(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AccessDeniedException' || name === 'AccessDenied';
}

function describe(value: string | undefined): string {
  return value === undefined ? 'missing' : `bad value "${value.slice(0, 20)}"`;
}

/** Each setting from its parameter's text; undefined when it is not a value of that setting. */
const PARSERS: { [S in Setting]-?: (value: string | undefined) => RoomConfig[S] | undefined } = {
  enabled: parseEnabled,
  admitPerMinute: parseRate,
  opensAt(value) {
    if (value === undefined) return undefined;
    if (isNone(value)) return null;
    return parseOpeningTime(value) ?? undefined;
  },
  powCost(value) {
    const text = value?.trim();
    if (!text || !/^\d+$/.test(text)) return undefined;
    const cost = Number(text);
    return isPowCost(cost) ? cost : undefined;
  },
  message: parseText,
  closed: parseText,
};

function parseText(value: string | undefined): string | null | undefined {
  if (value === undefined) return undefined;
  if (isNone(value)) return null;
  return operatorTextProblem(value) === null ? value.trim() : undefined;
}

function parseEnabled(value: string | undefined): boolean | undefined {
  const text = value?.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  return undefined;
}

function parseRate(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text || !/^\d+$/.test(text)) return undefined;
  const rate = Number(text);
  return rate <= MAX_ADMIT_PER_MINUTE ? rate : undefined;
}

export interface SsmConfigWriterOptions {
  client?: SSMClient;
  prefix: string;
}

/** Operator changes to the room config (`npm run room -- ... --aws`). */
export interface SsmConfigWriter {
  setEnabled(enabled: boolean): Promise<void>;
  /** Admissions per minute, a whole number from 0 (pause) to 1,000,000. */
  setRate(admitPerMinute: number): Promise<void>;
  /** The opening time (epoch ms), written as ISO-8601 in UTC; null: `none` (no schedule). */
  setOpensAt(opensAt: number | null): Promise<void>;
  /** The proof-of-work cost, a whole number from 0 (off) to `MAX_POW_COST`. */
  setPowCost(powCost: number): Promise<void>;
  /** The operator's message (trimmed, one line), or null: `none`. */
  setMessage(message: string | null): Promise<void>;
  /** The closing words (trimmed, one line), or null: `none` (open for sale). */
  setClosed(closed: string | null): Promise<void>;
  /** Writes each setting the change holds, in the order of {@link CONFIG_PARAMETERS}. */
  write(change: Partial<RoomConfig>): Promise<void>;
}

export function createSsmConfigWriter(options: SsmConfigWriterOptions): SsmConfigWriter {
  const client = options.client ?? defaultSsmClient();
  const put = async (name: string, value: string) => {
    await client.send(
      new PutParameterCommand({
        Name: `${options.prefix}${name}`,
        Value: value,
        Type: 'String',
        Overwrite: true,
      }),
    );
  };
  /** The text as stored, or a RangeError naming the parameter (before anything is written). */
  const text = (name: string, value: string | null): string => {
    if (value === null) return NONE;
    const problem = operatorTextProblem(value);
    if (problem) throw new RangeError(`${name} ${problem}`);
    return value.trim();
  };
  const writer: SsmConfigWriter = {
    setEnabled: (enabled) => put(ENABLED_PARAMETER, enabled ? 'true' : 'false'),
    async setRate(admitPerMinute) {
      if (
        !Number.isInteger(admitPerMinute) ||
        admitPerMinute < 0 ||
        admitPerMinute > MAX_ADMIT_PER_MINUTE
      ) {
        throw new RangeError(
          `admit-per-minute must be a whole number from 0 to ${MAX_ADMIT_PER_MINUTE} (got ${admitPerMinute})`,
        );
      }
      await put(RATE_PARAMETER, String(admitPerMinute));
    },
    async setOpensAt(opensAt) {
      if (opensAt !== null && !isOpeningTime(opensAt)) {
        throw new RangeError(
          `${OPENS_AT_PARAMETER} must be a time in whole epoch milliseconds (got ${opensAt})`,
        );
      }
      await put(OPENS_AT_PARAMETER, formatOpeningTime(opensAt));
    },
    async setPowCost(powCost) {
      if (!isPowCost(powCost)) {
        throw new RangeError(
          `${POW_COST_PARAMETER} must be a whole number from 0 to ${MAX_POW_COST} (got ${powCost})`,
        );
      }
      await put(POW_COST_PARAMETER, String(powCost));
    },
    setMessage: async (message) => put(MESSAGE_PARAMETER, text(MESSAGE_PARAMETER, message)),
    setClosed: async (closed) => put(CLOSED_PARAMETER, text(CLOSED_PARAMETER, closed)),
    async write(change) {
      if (change.enabled !== undefined) await writer.setEnabled(change.enabled);
      if (change.admitPerMinute !== undefined) await writer.setRate(change.admitPerMinute);
      if (change.opensAt !== undefined) await writer.setOpensAt(change.opensAt);
      if (change.powCost !== undefined) await writer.setPowCost(change.powCost);
      if (change.message !== undefined) await writer.setMessage(change.message);
      if (change.closed !== undefined) await writer.setClosed(change.closed);
    },
  };
  return writer;
}
