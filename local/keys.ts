/**
 * The local signing key: loaded from `WR_KEY_FILE`, created there (mode 0600) when the file does
 * not exist, or kept in memory for this run when no file is named.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { generateSigningKey, importSigningKey, type SigningKey } from '../functions/core/tokens.ts';
import { ConfigError } from './config.ts';

/** The key and its PKCS#8 PEM (which `start:aws-local` stores in SSM, as a deploy does). */
export type LocalSigningKey = SigningKey & { pkcs8: string };

export async function loadOrCreateKey(keyFile: string | null): Promise<LocalSigningKey> {
  if (keyFile === null) return generateSigningKey();
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('WR_KEY_FILE', `cannot read ${keyFile}: ${(error as Error).message}`);
    }
    const key = await generateSigningKey();
    // `wx`: never overwrite a key another process wrote meanwhile.
    await writeFile(keyFile, key.pkcs8, { mode: 0o600, flag: 'wx' });
    await chmod(keyFile, 0o600);
    return key;
  }
  try {
    return { ...(await importSigningKey(pem)), pkcs8: pem };
  } catch (error) {
    throw new ConfigError(
      'WR_KEY_FILE',
      `${keyFile} is not a PKCS#8 PEM P-256 private key (${(error as Error).message})`,
    );
  }
}
