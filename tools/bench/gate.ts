/**
 * Gate speed: decisions per second and per-decision latency of the gate (with its pass cache)
 * against a bare `jose` jwtVerify of the same tokens, for passes seen once and for the
 * repeated-cookie mix of real browsing; and the bundled size of the Lambda@Edge function.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { buildViewerRequest } from '../../edge/build.ts';
import { createPassCheck, decideGate, type GateConfig, parseGateConfig } from '../../edge/gate.ts';
import { generateSigningKey, jwksOf, signPass, verifierFor } from '../../functions/core/tokens.ts';
import { type Stats, summarize } from './stats.ts';

const ORIGIN = 'https://shop.example.com';
const ROOM = 'bench-room';

export interface GateRun {
  decisions: number;
  perSecond: number;
  latencyMs: Stats;
}

export interface GateResult {
  firstSight: { gate: GateRun; bare: GateRun };
  repeated: { gate: GateRun; bare: GateRun; visitors: number; requestsEach: number };
  bundle: { bytes: number; gzipBytes: number };
}

async function timeEach(
  tokens: readonly string[],
  fn: (token: string) => Promise<unknown>,
): Promise<GateRun> {
  const latencies: number[] = [];
  const started = performance.now();
  for (const token of tokens) {
    const t0 = performance.now();
    await fn(token);
    latencies.push(performance.now() - t0);
  }
  const elapsed = performance.now() - started;
  return {
    decisions: tokens.length,
    perSecond: tokens.length / (elapsed / 1000),
    latencyMs: summarize(latencies),
  };
}

export async function benchGate(
  options: { firstSight?: number; visitors?: number; requestsEach?: number } = {},
): Promise<GateResult> {
  const firstSight = options.firstSight ?? 3000;
  const visitors = options.visitors ?? 300;
  const requestsEach = options.requestsEach ?? 20;
  const key = await generateSigningKey();
  const jwks = jwksOf([key]);
  const keys = verifierFor(jwks);
  const config: GateConfig = parseGateConfig({
    roomId: ROOM,
    mainOrigin: ORIGIN,
    waitingRoomUrl: `${ORIGIN}/waiting-room/`,
    ungatedPaths: ['/waiting-room/', '/ws', '/.well-known/'],
    defaultEnabled: true,
    flagTtlMs: 5000,
    passTtlSeconds: 1200,
  });
  const now = Math.floor(Date.now() / 1000);
  const sign = (i: number) =>
    signPass(key, {
      roomId: ROOM,
      mainOrigin: ORIGIN,
      sessionId: `s${i}`,
      issuedAt: now,
      ttlSeconds: config.passTtlSeconds,
      jti: `j${i}`,
    });
  const fresh = await Promise.all(Array.from({ length: firstSight }, (_, i) => sign(i)));
  const browsing = await Promise.all(
    Array.from({ length: visitors }, (_, i) => sign(firstSight + i)),
  );
  // Each visitor's browser sends its cookie with every page and asset, interleaved with others.
  const mix: string[] = [];
  for (let r = 0; r < requestsEach; r++) for (const token of browsing) mix.push(token);

  const bare = (token: string) =>
    jwtVerify(token, keys, { algorithms: ['ES256'], issuer: ROOM, audience: ORIGIN });
  const gateWith = () => {
    const check = createPassCheck(keys, config);
    return (token: string) =>
      decideGate(
        {
          method: 'GET',
          path: '/tickets',
          query: 'show=evening',
          cookieHeader: `theme=dark; wr_pass=${token}`,
        },
        { enabled: true, config, verify: (t) => check(t, now), now },
      ).then((decision) => {
        if (decision.kind !== 'pass') throw new Error('a valid pass was refused');
      });
  };

  // Warm both paths up so neither pays for compilation in the figures.
  await timeEach(fresh.slice(0, 200), bare);
  await timeEach(fresh.slice(0, 200), gateWith());

  const result: GateResult = {
    firstSight: { bare: await timeEach(fresh, bare), gate: await timeEach(fresh, gateWith()) },
    repeated: {
      bare: await timeEach(mix, bare),
      gate: await timeEach(mix, gateWith()),
      visitors,
      requestsEach,
    },
    bundle: { bytes: 0, gzipBytes: 0 },
  };
  const outdir = await mkdtemp(join(tmpdir(), 'wr-edge-bench-'));
  try {
    const built = await buildViewerRequest({
      config: { gate: config, jwks, flagUrl: `${ORIGIN}/flag.json` },
      outdir,
    });
    result.bundle = { bytes: built.bytes, gzipBytes: built.gzipBytes };
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
  return result;
}
