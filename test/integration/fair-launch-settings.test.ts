/**
 * The fair-launch settings (opening time, proof-of-work cost, message, closing words) as the
 * admin endpoint takes them on both runtimes: what a change may set, what it refuses (and that a
 * refused change changes nothing), what the status shows, and that the local room keeps them
 * across a restart as it keeps `enabled` and the rate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_OPERATOR_TEXT } from '../../functions/core/protocol.ts';
import { MAX_POW_COST } from '../../functions/core/room-settings.ts';
import { adminFetch } from '../../local/admin-secret.ts';
import { createLocalSource } from '../../tools/console/sources.ts';
import { freshDataDir, removeDurableRooms } from '../helpers/durable-harness.ts';
import {
  RUNTIMES,
  type RuntimeRoom,
  startRuntimeRoom,
  startTestRoom,
} from '../helpers/local-room.ts';

let room: RuntimeRoom | undefined;

afterEach(async () => {
  await room?.close();
  room = undefined;
  await removeDurableRooms();
});

const OPENS_AT = Date.parse('2030-06-01T09:00:00Z');

async function postConfig(url: string, change: unknown, dataDir: string | null = null) {
  const response = await adminFetch(
    url,
    'config',
    { method: 'POST', body: JSON.stringify(change) },
    dataDir,
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe.each(RUNTIMES)('%s runtime', (runtime) => {
  it('sets every fair-launch setting in one change and shows them in the status', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime);

    // Act
    const answer = await postConfig(room.url, {
      opensAt: OPENS_AT,
      powCost: 50_000,
      message: '  Doors open at nine.  ',
      closed: 'Sold out, thank you!',
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      opensAt: OPENS_AT,
      powCost: 50_000,
      message: 'Doors open at nine.',
      closed: 'Sold out, thank you!',
    });
    expect(await room.status()).toMatchObject({ enabled: true, admitPerMinute: 60 });
  });

  it('clears the schedule, the message and the closing words with null, and turns proof of work off with 0', async () => {
    // Prepare
    room = await startRuntimeRoom(runtime);
    await postConfig(room.url, { opensAt: OPENS_AT, powCost: 10, message: 'Hi', closed: 'Over' });

    // Act
    const answer = await postConfig(room.url, {
      opensAt: null,
      powCost: 0,
      message: null,
      closed: null,
    });

    // Assess
    expect(answer.status).toBe(200);
    expect(await room.status()).toMatchObject({
      opensAt: null,
      powCost: 0,
      message: null,
      closed: null,
    });
  });
});

describe('the admin endpoint, given a bad fair-launch setting', () => {
  it.each([
    ['message', { message: 'line one\nline two' }, 'control characters'],
    ['message', { message: 'tab\there' }, 'control characters'],
    ['closed', { closed: '   ' }, 'must not be empty'],
    ['closed', { closed: 'x'.repeat(MAX_OPERATOR_TEXT + 1) }, `at most ${MAX_OPERATOR_TEXT}`],
    ['message', { message: 'none' }, 'null clears it'],
    ['message', { message: 42 }, 'string'],
    ['powCost', { powCost: MAX_POW_COST + 1 }, `at most ${MAX_POW_COST}`],
    ['powCost', { powCost: 1.5 }, 'whole number'],
    ['powCost', { powCost: -1 }, 'at least 0'],
    ['opensAt', { opensAt: '2030-06-01T09:00:00Z' }, 'epoch milliseconds'],
    ['opensAt', { opensAt: -5 }, 'epoch milliseconds'],
  ])('refuses a bad %s with a 400 that names it: %j', async (field, change, words) => {
    // Prepare
    const local = await startTestRoom();
    const before = await local.room.status();

    // Act
    const answer = await postConfig(local.url, change);
    const after = await local.room.status();
    await local.close();

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.error).toContain(`${field}: `);
    expect(answer.body.error).toContain(words);
    expect(after).toEqual(before);
  });

  it('changes nothing when one field of a change is bad and the others are good', async () => {
    // Prepare
    const local = await startTestRoom();

    // Act
    const answer = await postConfig(local.url, {
      powCost: 100,
      message: 'Welcome',
      closed: 'bad\u0007bell',
    });
    const status = await local.room.status();
    await local.close();

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.error).toContain('closed: ');
    expect(status).toMatchObject({ powCost: 0, message: null, closed: null });
  });

  it('keeps text that looks like HTML as it was typed, as plain text', async () => {
    // Prepare
    const local = await startTestRoom();
    const text = '<b>Doors</b> open at 9 & not before';

    // Act
    const answer = await postConfig(local.url, { message: text });
    await local.close();

    // Assess
    expect(answer.body.message).toBe(text);
  });
});

describe('the operator console on the local room', () => {
  it('samples the schedule, the pow cost, the message and the closing words from the status', async () => {
    // Prepare
    const local = await startTestRoom();
    await postConfig(local.url, { opensAt: OPENS_AT, powCost: 300, message: 'Hold on' });
    const source = createLocalSource(local.url, null);

    // Act
    const reading = await source.read();
    await local.close();

    // Assess
    expect(reading).toMatchObject({
      schedule: { opensAt: OPENS_AT, prequeue: null },
      powCost: 300,
      message: 'Hold on',
      closed: null,
      error: null,
    });
  });

  it('closes the sale through the console source, as the admin endpoint does', async () => {
    // Prepare
    const local = await startTestRoom();
    const source = createLocalSource(local.url, null);

    // Act
    await source.change({ closed: 'Sold out' });
    const status = await local.room.status();
    await local.close();

    // Assess
    expect(status.closed).toBe('Sold out');
  });
});

describe('the local room with a data directory', () => {
  it('keeps the fair-launch settings across a restart, as it keeps on/off and the rate', async () => {
    // Prepare
    const dir = freshDataDir();
    const first = await startTestRoom({ WR_DATA_DIR: dir });
    await postConfig(
      first.url,
      { opensAt: OPENS_AT, powCost: 2000, message: 'Hold tight', closed: 'All gone' },
      dir,
    );
    await first.close();

    // Act
    const second = await startTestRoom({ WR_DATA_DIR: dir });
    const status = await second.room.status();
    await second.close();

    // Assess
    expect(status).toMatchObject({
      opensAt: OPENS_AT,
      powCost: 2000,
      message: 'Hold tight',
      closed: 'All gone',
    });
  });
});
