/**
 * Reads the room's on/off flag from a small JSON document, `{ "enabled": true|false }`, published
 * next to the waiting-room site on AWS. Lambda@Edge cannot read SSM in the viewer's region cheaply
 * or quickly, so whatever turns the room on or off also rewrites this document.
 */
import * as v from 'valibot';
import { fetchSmallJson } from './small-document.ts';

/** How long one read may take; a viewer request has 5 s in all, and the gate must stay fast. */
export const FLAG_READ_TIMEOUT_MS = 1000;

// The document is a few bytes; anything much larger is not the flag document.
const MAX_FLAG_DOCUMENT_BYTES = 4096;

const FlagDocumentSchema = v.object({ enabled: v.boolean() });

/**
 * Fetches the flag document at `url` with global `fetch` and returns its `enabled`. Rejects on a
 * timeout, a redirect, a non-2xx status, an oversized body, invalid JSON or a wrong shape; the
 * flag cache turns a rejection into last-known-good.
 */
export async function readFlagDocument(
  url: string,
  timeoutMs: number = FLAG_READ_TIMEOUT_MS,
): Promise<boolean> {
  const document = await fetchSmallJson(url, {
    what: 'flag document',
    timeoutMs,
    maxBytes: MAX_FLAG_DOCUMENT_BYTES,
  });
  const result = v.safeParse(FlagDocumentSchema, document);
  if (!result.success) throw new Error(`flag document ${url} is not {"enabled": boolean}`);
  return result.output.enabled;
}
