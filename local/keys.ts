/**
 * The local signing key: loaded from `WR_KEY_FILE` (or `signing-key.pem` in the data directory),
 * created there (mode 0600) when the file does not exist, or kept in memory for this run when
 * the room keeps nothing on disk.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { generateSigningKey, importSigningKey, type SigningKey } from '../functions/core/tokens.ts';
import { ConfigError } from './config.ts';

/** The key and its PKCS#8 PEM (which `start:aws-local` stores in SSM, as a deploy does). */
export type LocalSigningKey = SigningKey & { pkcs8: string };

export async function loadOrCreateKey(
  keyFile: string | null,
  /** The setting that named the file, for error messages. */
  variable = 'WR_KEY_FILE',
): Promise<LocalSigningKey> {
  if (keyFile === null) return generateSigningKey();
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(variable, `cannot read ${keyFile}: ${(error as Error).message}`);
    }
    const key = await generateSigningKey();
    try {
      // `wx`: never overwrite a key another process wrote meanwhile.
      await writeFile(keyFile, key.pkcs8, { mode: 0o600, flag: 'wx' });
      await chmod(keyFile, 0o600);
    } catch (error) {
      throw new ConfigError(variable, `cannot write ${keyFile}: ${(error as Error).message}`);
    }
    return key;
  }
  try {
    return { ...(await importSigningKey(pem)), pkcs8: pem };
  } catch (error) {
    throw new ConfigError(
      variable,
      `${keyFile} is not a PKCS#8 PEM P-256 private key (${(error as Error).message})`,
    );
  }
}
