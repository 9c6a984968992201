/**
 * `npm run start:aws-local`'s runtime: the shared HTTP front ({@link startFront}) over the AWS
 * build running on this machine ({@link startAwsBackend}).
 */
import type { LocalConfig } from '../config.ts';
import { type Front, type FrontOptions, startFront } from '../front.ts';
import { type AwsBackend, type AwsLocalSettings, startAwsBackend } from './backend.ts';

export interface AwsLocalServer extends Front {
  backend: AwsBackend;
}

export async function startAwsLocalServer(
  settings: LocalConfig,
  aws: AwsLocalSettings,
  options: FrontOptions,
): Promise<AwsLocalServer> {
  return startFront(
    settings,
    () => startAwsBackend(settings, aws, options.log ?? (() => {})),
    options,
  );
}
