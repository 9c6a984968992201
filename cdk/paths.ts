/** Paths in the repository that the CDK app builds from. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda entry points (the contract with functions/: each exports `handler`). */
export const ROOM_FUNCTION_ENTRIES = {
  connect: join(REPO_ROOT, 'functions/lambda/connect.ts'),
  disconnect: join(REPO_ROOT, 'functions/lambda/disconnect.ts'),
  message: join(REPO_ROOT, 'functions/lambda/message.ts'),
  processor: join(REPO_ROOT, 'functions/lambda/processor.ts'),
} as const;

export type RoomFunctionName = keyof typeof ROOM_FUNCTION_ENTRIES;

/** Infrastructure glue that the CDK app deploys next to the room's functions. */
export const GLUE_ENTRIES = {
  signingKey: join(REPO_ROOT, 'cdk/custom-resources/signing-key.ts'),
  flagDocument: join(REPO_ROOT, 'cdk/handlers/flag.ts'),
  /** `npm run room -- rotate-key --aws` invokes it. */
  keyRotation: join(REPO_ROOT, 'functions/lambda/rotate-key.ts'),
} as const;

/** The built waiting-room page (`npm run build`). */
export const CLIENT_DIST = join(REPO_ROOT, 'client/dist');

export const PACKAGE_LOCK = join(REPO_ROOT, 'package-lock.json');
