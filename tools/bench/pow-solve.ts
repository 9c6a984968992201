/**
 * `npm run bench:pow`: how long the waiting-room page takes to solve the room's proof of work,
 * per cost. Builds a tiny page around the page's own solver (`client/src/lib/proof-of-work.ts`,
 * its Web Workers bundled by Vite as the page's are), serves it from loopback under the page's
 * Content-Security-Policy, and in headless Chromium solves challenges made by the room's own
 * code (`functions/core/proof-of-work.ts`), several runs per cost; each solution is checked by
 * the room. Prints a Markdown table: cost -> median and p90 seconds, and the workers used.
 *
 * `--costs 1000,4000` and `--runs 9` choose what to measure; `CHROMIUM_PATH` another Chromium.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import {
  createProofOfWork,
  deriveProofSecret,
  POW_ITERATIONS,
} from '../../functions/core/proof-of-work.ts';
import { generateSigningKey } from '../../functions/core/tokens.ts';
import { pageSecurityPolicy } from '../../local/static-page.ts';

const { values } = parseArgs({
  options: {
    costs: { type: 'string', default: '1000,2000,5000,10000,20000,50000,100000' },
    runs: { type: 'string', default: '9' },
  },
});
const costs = values.costs.split(',').map(Number);
const runs = Number(values.runs);
if (costs.some((c) => !Number.isInteger(c) || c < 1) || !Number.isInteger(runs) || runs < 1) {
  throw new Error('--costs takes whole numbers above 0, --runs a whole number above 0');
}
const CHROMIUM = process.env.CHROMIUM_PATH?.trim() || '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const ROOM = 'bench-room';
const log = (line: string) => process.stdout.write(`${line}\n`);

const solverModule = fileURLToPath(
  new URL('../../client/src/lib/proof-of-work.ts', import.meta.url),
);

/** Builds the harness page: the page's solver, exposed to the benchmark as `window.solvePow`. */
async function buildHarness(dir: string): Promise<string> {
  const root = join(dir, 'src');
  const outDir = join(dir, 'dist');
  await mkdir(root, { recursive: true });
  await writeFile(
    join(root, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>pow bench</title>' +
      '<script type="module" src="./main.ts"></script></head><body></body></html>',
  );
  await writeFile(
    join(root, 'main.ts'),
    `import { solveChallenge, workerCount } from ${JSON.stringify(solverModule)};
(window as unknown as Record<string, unknown>).solvePow = async (challenge: Record<string, unknown>) => {
  const started = performance.now();
  let tried = 0;
  const solution = await solveChallenge(challenge, { onProgress: (p) => { tried = p.tried; } });
  return { solution, seconds: (performance.now() - started) / 1000, workers: workerCount(), tried };
};
(window as unknown as Record<string, unknown>).ready = true;
`,
  );
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, modulePreload: { polyfill: false } },
  });
  // The solver's workers are a file of the page's own (what `worker-src 'self'` lets run).
  const assets = await readdir(join(outDir, 'assets'));
  if (!assets.some((name) => name.startsWith('pow-worker'))) {
    throw new Error(`the build made no worker file: ${assets.join(', ')}`);
  }
  return outDir;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** Serves the built harness on loopback with the waiting-room page's CSP. */
async function serve(dist: string) {
  const server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    if (path === 'favicon.ico') return void res.writeHead(204).end();
    const file = join(dist, path === '' ? 'index.html' : path);
    if (!file.startsWith(dist)) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': pageSecurityPolicy(null),
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (
    (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
  );
}

const dir = await mkdtemp(join(tmpdir(), 'wr-pow-bench-'));
const dist = await buildHarness(dir);
const site = await serve(dist);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
try {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(site.url);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);

  const key = await generateSigningKey();
  const secret = await deriveProofSecret(key, ROOM);
  const room = createProofOfWork({
    roomId: ROOM,
    secrets: () => ({ current: secret, accepted: [secret] }),
  });
  // One solve first: the workers' script is fetched and compiled once, as on a visitor's page.
  const warm = await room.challenge(10, Date.now());
  await page.evaluate(
    (c) => (window as unknown as { solvePow: (c: unknown) => Promise<unknown> }).solvePow(c),
    warm,
  );

  const rows: string[] = [];
  let workers = 0;
  for (const cost of costs) {
    const seconds: number[] = [];
    let tried = 0;
    for (let run = 0; run < runs; run++) {
      const challenge = await room.challenge(cost, Date.now());
      const result = (await page.evaluate(
        (c) => (window as unknown as { solvePow: (c: unknown) => Promise<unknown> }).solvePow(c),
        challenge,
      )) as { solution: Record<string, unknown>; seconds: number; workers: number; tried: number };
      const check = await room.check({ challenge, solution: result.solution }, cost, Date.now());
      if (check.outcome !== 'good')
        throw new Error(`the room refused a solution: ${check.outcome}`);
      seconds.push(result.seconds);
      tried += Number(result.solution.counter) + 1;
      workers = result.workers;
    }
    seconds.sort((a, b) => a - b);
    const line = `| ${cost.toLocaleString('en-US')} | ${runs} | ${quantile(seconds, 0.5).toFixed(2)} | ${quantile(seconds, 0.9).toFixed(2)} | ${(seconds.at(-1) as number).toFixed(2)} | ${Math.round(tried / runs).toLocaleString('en-US')} | ${Math.round(tried / seconds.reduce((a, b) => a + b, 0)).toLocaleString('en-US')} |`;
    rows.push(line);
    process.stderr.write(`${line}\n`);
  }
  if (problems.length > 0) throw new Error(`the page reported: ${problems.join('; ')}`);

  const version = browser.version();
  log(`# Proof-of-work solve time in the page (\`npm run bench:pow\`)`);
  log('');
  log(
    `Chromium ${version} headless, ${workers} Web Workers (navigator.hardwareConcurrency), on ${cpus()[0]?.model.trim() ?? 'an unknown CPU'} (${cpus().length} cores). Each attempt is one PBKDF2-SHA-256 of ${POW_ITERATIONS.toLocaleString('en-US')} iterations (WebCrypto); the room draws the counter from [0, 2 x cost), so a solve takes between 1 and 2 x cost attempts, cost on average.`,
  );
  log('');
  log('| cost | runs | median s | p90 s | max s | mean attempts | attempts/s |');
  log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) log(row);
} finally {
  await browser.close();
  await site.close();
  await rm(dir, { recursive: true, force: true });
}
