/**
 * Bundles the Lambda@Edge viewer-request gate with the deploy's config baked in.
 *
 * Format: ES module, `viewer-request.mjs`, handler `viewer-request.handler`, for Node.js 22 (the
 * gate's Lambda@Edge runtime is `nodejs22.x`, like every function of the room). That runtime loads
 * an `.mjs` handler as an ES module, the source is ESM, and jose and valibot ship ESM, so nothing
 * is converted and tree shaking works on the real module graph. Minified, no source map and the
 * AWS SDK external: Lambda@Edge refuses a viewer-request package over 1 MB, and the gate needs no
 * SDK at all.
 *
 * Usable from the CDK app (`await buildViewerRequest({ config, outdir })`, then
 * `Code.fromAsset(outdir)`) or from a shell:
 * `tsx edge/build.ts --config gate-config.json --outdir dist/edge`.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { BAKED_CONFIG_SPECIFIER } from './baked-config.ts';
import { type EdgeConfig, parseEdgeConfig } from './edge-config.ts';

/** The hard limit on a viewer-request function package (zipped), in bytes. */
export const EDGE_VIEWER_PACKAGE_LIMIT_BYTES = 1024 * 1024;

export const VIEWER_REQUEST_FILE = 'viewer-request.mjs';
export const VIEWER_REQUEST_HANDLER = 'viewer-request.handler';

const edgeDir = fileURLToPath(new URL('.', import.meta.url));

export interface BuildViewerRequestOptions {
  /** The deploy's config (validated here, before anything is written). */
  config: unknown;
  /** Directory to write `viewer-request.mjs` into. */
  outdir: string;
}

export interface BuildViewerRequestResult {
  outfile: string;
  /** Size of the bundle on disk. */
  bytes: number;
  /** Size gzip-compressed: close to what it weighs inside the deployment zip. */
  gzipBytes: number;
  /** Bytes each input contributes to the bundle, largest first. */
  inputs: Array<{ path: string; bytes: number }>;
}

/**
 * Bundles `edge/viewer-request.ts` into `outdir/viewer-request.mjs` with `config` in place of the
 * example config, and reports the sizes. Throws when the config is invalid or the bundle is over
 * the Lambda@Edge limit.
 */
export async function buildViewerRequest(
  options: BuildViewerRequestOptions,
): Promise<BuildViewerRequestResult> {
  const config = parseEdgeConfig(options.config);
  const outfile = join(options.outdir, VIEWER_REQUEST_FILE);
  const result = await build({
    entryPoints: [join(edgeDir, 'viewer-request.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    treeShaking: true,
    legalComments: 'eof',
    external: ['@aws-sdk/*'],
    plugins: [bakeConfig(config)],
    metafile: true,
    logLevel: 'silent',
  });
  const bytes = (await stat(outfile)).size;
  const gzipBytes = gzipSync(await readFile(outfile)).length;
  if (gzipBytes > EDGE_VIEWER_PACKAGE_LIMIT_BYTES) {
    throw new Error(`viewer-request bundle is ${gzipBytes} bytes zipped, over the 1 MB limit`);
  }
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([path, input]) => ({ path, bytes: input.bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { outfile, bytes, gzipBytes, inputs };
}

/** Serves `config` as the module `baked-config.ts` imports as its JSON. */
function bakeConfig(config: EdgeConfig): Plugin {
  const namespace = 'wr-baked-config';
  return {
    name: 'wr-bake-edge-config',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /gate-config\.example\.json$/ }, (args) =>
        args.path === BAKED_CONFIG_SPECIFIER && args.importer.endsWith('baked-config.ts')
          ? { path: 'gate-config.json', namespace }
          : undefined,
      );
      pluginBuild.onLoad({ filter: /.*/, namespace }, () => ({
        contents: JSON.stringify(config),
        loader: 'json',
      }));
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, outdir: { type: 'string' } },
  });
  if (!values.config || !values.outdir) {
    throw new Error('usage: tsx edge/build.ts --config <gate-config.json> --outdir <dir>');
  }
  const config: unknown = JSON.parse(await readFile(resolve(values.config), 'utf8'));
  const built = await buildViewerRequest({ config, outdir: values.outdir });
  process.stdout.write(
    `${built.outfile}: ${built.bytes} bytes, ${built.gzipBytes} bytes gzipped (limit ${EDGE_VIEWER_PACKAGE_LIMIT_BYTES})\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
