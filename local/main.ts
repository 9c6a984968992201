/**
 * `npm start` and `npm run start:aws-local` (`--aws-local`): reads the settings, builds the
 * waiting-room page if it is not built yet, starts the room on the in-process adapters or on
 * the AWS build running on this machine, and prints where everything is.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readAwsLocalConfig } from './aws-local/config.ts';
import { startAwsLocalServer } from './aws-local/server.ts';
import { ConfigError, readLocalConfig } from './config.ts';
import { JWKS_PATH, WS_PATH } from './front.ts';
import { startLocalServer } from './server.ts';

const awsLocal = process.argv.includes('--aws-local');

const clientRoot = fileURLToPath(new URL('../client/', import.meta.url));
const clientDir = fileURLToPath(new URL('../client/dist/', import.meta.url));

async function ensurePageBuilt(): Promise<void> {
  if (existsSync(`${clientDir}index.html`)) return;
  process.stdout.write('Building the waiting-room page (first start)...\n');
  const { build } = await import('vite');
  await build({ root: clientRoot, configFile: `${clientRoot}vite.config.ts`, logLevel: 'warn' });
}

function log(level: 'info' | 'error', message: string, fields: Record<string, unknown> = {}) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  (level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
}

async function main(): Promise<void> {
  const settings = readLocalConfig();
  const aws = awsLocal ? readAwsLocalConfig() : null;
  await ensurePageBuilt();
  const server = aws
    ? await startAwsLocalServer(settings, aws, { clientDir, log })
    : await startLocalServer(settings, { clientDir, log });
  const runtime = aws
    ? `through the Lambda handlers, DynamoDB ${aws.dynamoEndpoint ?? '(embedded dynalite)'}, SQS FIFO ${aws.sqsEndpoint ?? '(embedded fauxqs)'} and an SSM stand-in`
    : settings.dataDir
      ? `in process, kept in ${settings.dataDir}`
      : 'in process, in memory only: a restart forgets the line';
  const base = settings.publicUrl;
  const ws = `${base.replace(/^http/, 'ws')}${WS_PATH}`;
  process.stdout.write(
    [
      '',
      `Waiting room ready (room "${settings.roomId}", ${settings.enabled ? 'on' : 'off'}, ${settings.admitPerMinute} admissions/min, ${runtime})`,
      `  Main site      ${base}/${settings.upstream ? `  (proxied to ${settings.upstream})` : '  (demo site)'}`,
      `  Waiting room   ${base}/waiting-room/`,
      `  WebSocket      ${ws}`,
      `  Public keys    ${base}${JWKS_PATH}`,
      `  Operator       npm run room -- status | on | off | rate <admitPerMinute>${settings.dataDir && !aws ? ' | backup' : ''}`,
      ...(aws ? [`  AWS usage      ${base}/__room/admin/usage  (loopback only)`] : []),
      '',
    ].join('\n'),
  );
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    process.exit(process.exitCode ?? 0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`Cannot start: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    const { address, port } = error as { address?: string; port?: number };
    process.stderr.write(
      `Cannot start: PORT: ${address}:${port} is already in use; stop what listens there or choose another PORT.\n`,
    );
  } else {
    process.stderr.write(`Cannot start: ${error instanceof Error ? error.stack : String(error)}\n`);
  }
  process.exit(1);
});
