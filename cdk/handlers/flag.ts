/**
 * Entry point of the flag function (Lambda function URL behind the main distribution at
 * `/__room/flag.json`); see ./flag-document.ts. Reads its one setting at cold start.
 */
import { Env } from '../../functions/env.ts';
import { createFlagDocumentHandler } from './flag-document.ts';

const configPrefix = process.env[Env.configPrefix];
if (!configPrefix) throw new Error(`environment variable ${Env.configPrefix} is not set`);

export const handler = createFlagDocumentHandler({ configPrefix });
