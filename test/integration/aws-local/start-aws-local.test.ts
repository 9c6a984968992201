/**
 * `npm run start:aws-local` as a whole: where its DynamoDB and SQS are, what it counts, and the processor
 * invoked on its schedule the way EventBridge does, handing the lease from one invocation to the
 * next.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { adminFetch } from '../../../local/admin-secret.ts';
import { ConfigError } from '../../../local/config.ts';
import { type Dynalite, startDynalite } from '../../helpers/aws-dynalite.ts';
import { type Fauxqs, startFauxqsForTests } from '../../helpers/aws-fauxqs.ts';
import { type RuntimeRoom, startRuntimeRoom } from '../../helpers/local-room.ts';
import { WsVisitor } from '../../helpers/ws-visitor.ts';

let room: RuntimeRoom | undefined;
let db: Dynalite | undefined;
let sqs: Fauxqs | undefined;
const visitors: WsVisitor[] = [];

afterEach(async () => {
  await Promise.all(visitors.splice(0).map((v) => v.close()));
  await room?.close();
  room = undefined;
  await db?.close();
  db = undefined;
  await sqs?.close();
  sqs = undefined;
});

async function visitor(r: RuntimeRoom): Promise<WsVisitor> {
  const v = await WsVisitor.connect(r.wsUrl);
  visitors.push(v);
  return v;
}

describe('start:aws-local', () => {
  it('keeps the line in the DynamoDB that WR_DYNAMODB_ENDPOINT names, in a table it creates there', async () => {
    // Prepare
    db = await startDynalite();

    // Act
    room = await startRuntimeRoom('aws-local', {
      WR_DYNAMODB_ENDPOINT: db.endpoint,
      WR_ADMIT_PER_MINUTE: '0',
    });
    const v = await visitor(room);
    v.send({ action: 'join' });
    const { sessionId } = await v.next('joined');
    const { Items = [] } = await db.client.send(
      new ScanCommand({ TableName: 'waiting-room-waiting-room' }),
    );

    // Assess
    expect(Items.map((item) => item.pk?.S)).toContain(`S#${sessionId}`);
  });

  it('queues arrivals on the SQS endpoint that WR_SQS_ENDPOINT names, in queues it creates there', async () => {
    // Prepare
    sqs = await startFauxqsForTests();

    // Act
    room = await startRuntimeRoom('aws-local', {
      WR_SQS_ENDPOINT: sqs.endpoint,
      WR_ADMIT_PER_MINUTE: '0',
    });
    const v = await visitor(room);
    v.send({ action: 'join' });
    await v.next('joined');
    const { QueueUrls = [] } = await sqs.client.send(new ListQueuesCommand({}));

    // Assess: the queues as the CDK app deploys them, and the arrival numbered from there.
    expect(QueueUrls.map((url) => url.split('/').at(-1)).sort()).toEqual([
      'waiting-room-waiting-room-arrivals-dlq.fifo',
      'waiting-room-waiting-room-arrivals.fifo',
    ]);
    expect((await v.next('position')).position).toBe(1);
  });

  it('refuses to start when WR_SQS_ENDPOINT does not answer, naming the variable', async () => {
    // Act
    const starting = startRuntimeRoom('aws-local', { WR_SQS_ENDPOINT: 'http://127.0.0.1:9' });

    // Assess
    await expect(starting).rejects.toThrow(ConfigError);
    await expect(starting).rejects.toThrow(
      /WR_SQS_ENDPOINT: cannot create or read the arrival queue/,
    );
  });

  it('refuses to start when WR_DYNAMODB_ENDPOINT does not answer, naming the variable', async () => {
    // Act
    const starting = startRuntimeRoom('aws-local', { WR_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' });

    // Assess
    await expect(starting).rejects.toThrow(ConfigError);
    await expect(starting).rejects.toThrow(/WR_DYNAMODB_ENDPOINT: cannot create or read the table/);
  });

  it('counts the AWS calls of a visitor, and serves them to loopback only', async () => {
    // Prepare
    room = await startRuntimeRoom('aws-local', { WR_TICK_MS: '200', WR_ADMIT_PER_MINUTE: '600' });
    const before = await room.usage?.();

    // Act
    const v = await visitor(room);
    v.send({ action: 'join' });
    await v.next('admitted');
    const after = await room.usage?.();
    const served = await adminFetch(room.url, 'usage');

    // Assess
    // The session and its connection on DynamoDB; its arrival is one SQS message, which only
    // the processor receives and deletes.
    expect(after?.sdk.message?.dynamodb.calls.PutItem).toBeGreaterThanOrEqual(2);
    expect(after?.sdk.message?.sqs.calls).toEqual({ SendMessage: 1 });
    expect(after?.sdk.processor?.sqs.calls.ReceiveMessage).toBeGreaterThanOrEqual(1);
    expect(after?.sdk.processor?.sqs.calls.DeleteMessageBatch).toBeGreaterThanOrEqual(1);
    expect(after?.sdk.processor?.sqs.calls.SendMessage).toBeUndefined();
    expect(after?.sdk.total?.dynamodb.writeUnits).toBeGreaterThan(
      before?.sdk.total?.dynamodb.writeUnits ?? 0,
    );
    expect(after?.lambda.connect?.invocations).toBe(1);
    expect(after?.lambda.message?.invocations).toBe(1);
    expect(after?.apiGateway).toMatchObject({ connections: 1, messagesIn: 1 });
    expect(after?.apiGateway.postToConnection).toBeGreaterThanOrEqual(2);
    expect(after?.metrics.message?.joins).toBe(1);
    expect(served.status).toBe(200);
  });

  it('invokes the processor on its schedule, and each invocation hands the lease to the successor it starts', async () => {
    // Prepare: an invocation every 2 s that ticks for 2 s (a 12 s timeout less the 10 s margin).
    room = await startRuntimeRoom('aws-local', {
      WR_TICK_MS: '200',
      WR_ADMIT_PER_MINUTE: '60',
      WR_AWS_SCHEDULE_SECONDS: '2',
      WR_AWS_PROCESSOR_TIMEOUT_SECONDS: '12',
    });
    const line = await Promise.all([0, 1, 2, 3, 4, 5].map(() => visitor(room as RuntimeRoom)));

    // Act
    for (const v of line) {
      v.send({ action: 'join' });
      await v.next('joined');
    }
    const admitted = await Promise.all(line.map((v) => v.next('admitted', { timeoutMs: 15_000 })));
    const usage = await room.usage?.();

    // Assess
    expect(admitted).toHaveLength(6);
    expect(usage?.processor.invocations).toBeGreaterThanOrEqual(3);
    expect(usage?.lambda.processor?.invocations).toBeGreaterThanOrEqual(1);
    expect(usage?.lambda.processor?.errors).toBe(0);
    expect(room.errors).toEqual([]);
  });

  it('lets the processor sleep with nobody in line, and the first join wakes it at once', async () => {
    // Prepare: the schedule starts the processor once (then an hour apart); it sleeps after 1 s.
    room = await startRuntimeRoom('aws-local', {
      WR_TICK_MS: '200',
      WR_ADMIT_PER_MINUTE: '600',
      WR_AWS_SCHEDULE_SECONDS: '3600',
      WR_AWS_SLEEP_AFTER_IDLE_SECONDS: '1',
    });
    const r = room;
    await until(async () => (await r.usage?.())?.lambda.processor?.invocations === 1);

    // Act
    const v = await visitor(r);
    const joinedAt = Date.now();
    v.send({ action: 'join' });
    await v.next('joined');
    await v.next('admitted', { timeoutMs: 10_000 });
    const admittedAfter = Date.now() - joinedAt;
    await until(async () => (await r.usage?.())?.lambda.processor?.invocations === 2, 15_000);
    const usage = await r.usage?.();

    // Assess: woken (the schedule would only have come an hour later), then asleep again.
    expect(admittedAfter).toBeLessThan(10_000);
    expect(usage?.lambda.processor?.invocations).toBe(2);
    expect(usage?.lambda.processor?.errors).toBe(0);
    expect(r.errors).toEqual([]);
  });
});

describe('start:aws-local config changes', () => {
  it('reach the joins of a sleeping room within seconds (the change wakes the processor)', async () => {
    // Prepare: a room whose processor went to sleep (no watchdog for an hour).
    room = await startRuntimeRoom('aws-local', {
      WR_TICK_MS: '200',
      WR_AWS_SCHEDULE_SECONDS: '3600',
      WR_AWS_SLEEP_AFTER_IDLE_SECONDS: '1',
    });
    const r = room;
    await until(async () => (await r.usage?.())?.lambda.processor?.invocations === 1);

    // Act
    const response = await adminFetch(r.url, 'config', {
      method: 'POST',
      body: JSON.stringify({ enabled: false }),
    });
    const changedAt = Date.now();
    let answer = '';
    while (answer !== 'open' && Date.now() - changedAt < 10_000) {
      const v = await visitor(r);
      v.send({ action: 'join' });
      await until(async () => v.messages().some((m) => m.type === 'open' || m.type === 'joined'));
      answer = v.messages().some((m) => m.type === 'open') ? 'open' : 'joined';
      await v.close();
      if (answer !== 'open') await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // Assess
    expect(response.status).toBe(200);
    expect(answer).toBe('open');
    expect(Date.now() - changedAt).toBeLessThan(5000);
    expect(r.errors).toEqual([]);
  });
});

/** Polls `check` every 100 ms until it holds, or fails after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error(`not so within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
