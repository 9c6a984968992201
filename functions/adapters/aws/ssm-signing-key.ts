/**
 * The room's signing key from SSM: a SecureString holding a PKCS#8 PEM P-256 private key, read
 * with decryption once per container and kept in memory (a failed read is not kept, so the next
 * call tries again).
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { importSigningKey, type SigningKey } from '../../core/tokens.ts';
import { defaultSsmClient } from './clients.ts';

export interface SigningKeyParameterOptions {
  client?: SSMClient;
  /** Name of the SecureString parameter. */
  name: string;
}

const loaded = new WeakMap<SSMClient, Map<string, Promise<SigningKey>>>();

/** Loads (once per client and name) and imports the signing key. */
export function loadSigningKeyFromSsm(options: SigningKeyParameterOptions): Promise<SigningKey> {
  const client = options.client ?? defaultSsmClient();
  let byName = loaded.get(client);
  if (!byName) {
    byName = new Map();
    loaded.set(client, byName);
  }
  const cache = byName;
  let key = cache.get(options.name);
  if (!key) {
    key = readKey(client, options.name);
    cache.set(options.name, key);
    key.catch(() => cache.delete(options.name));
  }
  return key;
}

async function readKey(client: SSMClient, name: string): Promise<SigningKey> {
  const { Parameter } = await client.send(
    new GetParameterCommand({ Name: name, WithDecryption: true }),
  );
  if (!Parameter?.Value) throw new Error(`SSM parameter ${name} holds no signing key`);
  try {
    return await importSigningKey(Parameter.Value);
  } catch (error) {
    // The message names the parameter, never its value.
    throw new Error(`SSM parameter ${name} is not a PKCS#8 PEM P-256 private key`, {
      cause: error instanceof Error ? error.name : undefined,
    });
  }
}
