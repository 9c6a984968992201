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
  const backend = await startAwsBackend(settings, aws, options.log ?? (() => {}));
  try {
    return { ...(await startFront(settings, backend, options)), backend };
  } catch (error) {
    await backend.close();
    throw error;
  }
}
