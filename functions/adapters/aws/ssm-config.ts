/**
 * The room configuration in SSM Parameter Store: `${prefix}enabled` (`true`/`false`) and
 * `${prefix}admit-per-minute` (a whole number >= 0), both String parameters that operators
 * change live.
 *
 * {@link createSsmConfigSource} reads both with one GetParameters call and keeps the answer for
 * a short while (5 s by default), so a Lambda container asks SSM at most once per TTL however
 * many frames it handles. When a read fails, or a parameter is missing or holds a bad value, it
 * keeps the last good value of that setting. With none yet, it falls back to the room on (as
 * the gate does) and admission **paused** (0 per minute): a processor that cannot read the rate
 * must never admit faster than the operator may have asked, and a pause that lasts until SSM
 * answers again can be made up, an over-admission cannot. Failures are reported to `onError`.
 */
import { GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Clock, ConfigSource, RoomConfig } from '../../core/ports.ts';
import { systemClock } from '../local/system-clock.ts';
import { defaultSsmClient } from './clients.ts';

export const ENABLED_PARAMETER = 'enabled';
export const RATE_PARAMETER = 'admit-per-minute';
/** What the room runs with before any value was ever read. */
export const FALLBACK_ROOM_CONFIG: RoomConfig = { enabled: true, admitPerMinute: 0 };
export const MAX_ADMIT_PER_MINUTE = 1_000_000;

export interface SsmConfigSourceOptions {
  client?: SSMClient;
  /** Parameter name prefix, e.g. `/waiting-room/config/` (with its trailing slash). */
  prefix: string;
  /** How long an answer (or a failure) is kept before SSM is asked again. */
  ttlMs?: number;
  clock?: Clock;
  fallback?: RoomConfig;
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
  const fallback = { ...(options.fallback ?? FALLBACK_ROOM_CONFIG) };
  const enabledName = `${options.prefix}${ENABLED_PARAMETER}`;
  const rateName = `${options.prefix}${RATE_PARAMETER}`;
  const lastGood: Partial<RoomConfig> = {};
  let cached: { config: RoomConfig; freshUntil: number } | undefined;
  let inFlight: Promise<RoomConfig> | undefined;

  async function refresh(): Promise<RoomConfig> {
    const now = clock.now();
    try {
      const { Parameters = [] } = await client.send(
        new GetParametersCommand({ Names: [enabledName, rateName] }),
      );
      const values = new Map(Parameters.map((p) => [p.Name, p.Value]));
      const enabled = parseEnabled(values.get(enabledName));
      const admitPerMinute = parseRate(values.get(rateName));
      if (enabled !== undefined) lastGood.enabled = enabled;
      if (admitPerMinute !== undefined) lastGood.admitPerMinute = admitPerMinute;
      const bad = [
        enabled === undefined ? `${enabledName} (${describe(values.get(enabledName))})` : null,
        admitPerMinute === undefined ? `${rateName} (${describe(values.get(rateName))})` : null,
      ].filter((name) => name !== null);
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
      return { ...(await inFlight) };
    },
  };
}

function describe(value: string | undefined): string {
  return value === undefined ? 'missing' : `bad value "${value.slice(0, 20)}"`;
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
  return {
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
  };
}
