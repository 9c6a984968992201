/**
 * Generated WebSocket frames for the fuzz and flood tests: random text, random JSON values,
 * protocol-shaped objects with wrong or extra fields, deep nesting, frames around the size limit
 * and a share of well-formed protocol frames (join, resume, status, ping), so a flood also holds
 * the messages that do change state.
 */
import fc from 'fast-check';
import { MAX_FRAME_BYTES } from '../../../functions/core/protocol.ts';

const actions = [
  'join',
  'resume',
  'status',
  'ping',
  'JOIN',
  'dance',
  '__proto__',
  'constructor',
  'toString',
  '',
];

const protocolShaped = fc
  .record(
    {
      action: fc.oneof(fc.constantFrom(...actions), fc.jsonValue()),
      return: fc.oneof(fc.string(), fc.jsonValue(), fc.constantFrom('//evil.example', '/ok')),
      ticket: fc.oneof(fc.string(), fc.jsonValue(), fc.constant('a.b.c')),
      extra: fc.jsonValue(),
    },
    { requiredKeys: ['action'] },
  )
  .map((value) => JSON.stringify(value));

const deeplyNested = fc
  .tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('[]', '{"a":}'))
  .map(([depth, kind]) => {
    if (kind === '[]') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  });

const aroundTheLimit = fc
  .integer({ min: MAX_FRAME_BYTES - 40, max: MAX_FRAME_BYTES + 40 })
  .map((size) => {
    const head = '{"action":"join","return":"/';
    return `${head}${'x'.repeat(Math.max(0, size - head.length - 2))}"}`;
  });

const wellFormed = fc.constantFrom(
  '{"action":"join"}',
  '{"action":"join","return":"/tickets"}',
  '{"action":"status"}',
  '{"action":"ping"}',
  '{"action":"resume","ticket":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}',
);

/** One hostile or odd text frame. */
export const frameArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 3, arbitrary: fc.json() },
  { weight: 3, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 4, arbitrary: protocolShaped },
  { weight: 1, arbitrary: deeplyNested },
  { weight: 1, arbitrary: aroundTheLimit },
  { weight: 2, arbitrary: wellFormed },
);

/** `count` frames, the same ones for the same seed. */
export function sampleFrames(count: number, seed: number): string[] {
  return fc.sample(frameArbitrary, { numRuns: count, seed });
}
