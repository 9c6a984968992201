/**
 * The settings `npm run start:aws-local` reads besides `npm start`'s: where DynamoDB is, and
 * API Gateway's, EventBridge's and the processor's timings, which tests shorten. Read once at start; a bad value
 * stops the start with a message that names the variable.
 */
import * as v from 'valibot';
import { wholeNumberSetting } from '../../functions/env.ts';
import { ConfigError } from '../config.ts';
import { type AwsLocalSettings, DEFAULT_AWS_LOCAL_SETTINGS } from './backend.ts';
import { FaultsError, parseAwsFaults } from './faults.ts';

const endpoint = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol),
    'must be an http(s) URL such as http://127.0.0.1:8000',
  ),
);

const seconds = {
  WR_AWS_IDLE_TIMEOUT_SECONDS: {
    key: 'idleTimeoutMs',
    schema: wholeNumberSetting(1, 24 * 3600),
  },
  WR_AWS_MAX_CONNECTION_SECONDS: {
    key: 'maxConnectionMs',
    schema: wholeNumberSetting(1, 7 * 24 * 3600),
  },
  WR_AWS_SCHEDULE_SECONDS: { key: 'scheduleMs', schema: wholeNumberSetting(1, 3600) },
  WR_AWS_PROCESSOR_TIMEOUT_SECONDS: {
    key: 'processorTimeoutMs',
    schema: wholeNumberSetting(11, 900),
  },
  WR_AWS_SLEEP_AFTER_IDLE_SECONDS: {
    key: 'sleepAfterIdleMs',
    schema: wholeNumberSetting(1, 3600),
  },
} as const;

/** An endpoint of a service already running, from `variable`, or null when it is not set. */
function endpointOf(env: NodeJS.ProcessEnv, variable: string): string | null {
  const raw = env[variable]?.trim();
  if (!raw) return null;
  const parsed = v.safeParse(endpoint, raw);
  if (!parsed.success) {
    throw new ConfigError(variable, `${parsed.issues[0]?.message} (got "${raw}")`);
  }
  return parsed.output;
}

export function readAwsLocalConfig(env: NodeJS.ProcessEnv = process.env): AwsLocalSettings {
  const settings: AwsLocalSettings = { ...DEFAULT_AWS_LOCAL_SETTINGS };
  settings.dynamoEndpoint = endpointOf(env, 'WR_DYNAMODB_ENDPOINT');
  settings.sqsEndpoint = endpointOf(env, 'WR_SQS_ENDPOINT');
  try {
    settings.faults = parseAwsFaults(env.WR_AWS_FAULTS);
  } catch (error) {
    if (error instanceof FaultsError) throw new ConfigError('WR_AWS_FAULTS', error.message);
    throw error;
  }
  for (const [variable, { key, schema }] of Object.entries(seconds)) {
    const raw = env[variable]?.trim();
    if (!raw) continue;
    const parsed = v.safeParse(schema, raw);
    if (!parsed.success) {
      throw new ConfigError(variable, `${parsed.issues[0]?.message} (got "${raw}")`);
    }
    settings[key] = parsed.output * 1000;
  }
  return settings;
}
