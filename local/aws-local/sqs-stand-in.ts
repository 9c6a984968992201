/**
 * SQS on loopback, speaking the service's JSON protocol (`X-Amz-Target: AmazonSQS.<Action>`,
 * AWS JSON 1.0, what `@aws-sdk/client-sqs` sends), with the FIFO semantics the arrival queue
 * relies on, so the real SQS adapter runs unchanged against it:
 *
 * - message groups delivered strictly in order; a group with a message in flight delivers
 *   nothing more until that message is deleted or becomes visible again; one ReceiveMessage
 *   returns up to 10 messages of one group, in order, as SQS does;
 * - deduplication by `MessageDeduplicationId` (or the body's SHA-256 with content-based
 *   deduplication) for 5 minutes: a duplicate is accepted and returns the first message's id;
 * - a `SequenceNumber` that grows with every message sent to the queue;
 * - the visibility timeout (per queue, per receive, `ChangeMessageVisibility`), receive counts,
 *   and the redrive policy: a message received `maxReceiveCount` times moves to the dead-letter
 *   queue on the next receive;
 * - batches (send, delete) with per-entry failures (an unknown receipt handle fails its entry);
 * - long polling (`WaitTimeSeconds`), approximate counts in `GetQueueAttributes`.
 *
 * Why not an npm emulator: `fauxqs` (the most complete one) deliberately returns one message
 * per group per ReceiveMessage and accepts unknown receipt handles, which would change both the
 * processor's throughput and the AWS call counts this runtime exists to measure (README).
 * Retention periods and delays are not modelled: nothing in the room depends on them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, listenStandIn, readRequestBody, type StandInServer } from './http-stand-in.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const DEDUP_WINDOW_MS = 5 * 60_000;
const MAX_BATCH = 10;
const MAX_BODY_BYTES = 256 * 1024;

interface StoredMessage {
  id: string;
  body: string;
  md5: string;
  groupId: string | undefined;
  dedupId: string | undefined;
  sequence: string;
  sentAt: number;
  receiveCount: number;
  firstReceivedAt: number | undefined;
}

interface InFlight {
  message: StoredMessage;
  visibleAt: number;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  fifo: boolean;
  attributes: Record<string, string>;
  /** Visible messages of each group, oldest first (a standard queue uses one group, ''). */
  groups: Map<string, StoredMessage[]>;
  inFlight: Map<string, InFlight>;
  /** Groups with a message in flight, and how many. */
  locked: Map<string, number>;
  dedup: Map<string, { messageId: string; sequence: string; until: number }>;
  sequence: bigint;
}

export interface SqsStandIn extends StandInServer {
  /** Calls answered so far, by action name. */
  readonly calls: Map<string, number>;
}

const err = (type: string, message: string, status = 400) =>
  new AwsError(status, `com.amazonaws.sqs#${type}`, message);

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** Starts the stand-in on 127.0.0.1 (port 0: any free one). */
export async function startSqsStandIn(port = 0): Promise<SqsStandIn> {
  const queues = new Map<string, Queue>();
  const calls = new Map<string, number>();
  const changed = new EventEmitter();
  changed.setMaxListeners(0);
  let base = '';

  const queueOf = (input: Record<string, unknown>): Queue => {
    const url = String(input.QueueUrl ?? '');
    const name = url.slice(url.lastIndexOf('/') + 1);
    const queue = queues.get(name);
    if (!queue) throw err('QueueDoesNotExist', `The specified queue does not exist: ${url}`);
    return queue;
  };

  /**
   * Returns expired in-flight messages to their groups at their place by sequence number: a
   * batch's messages may turn visible at different times (ChangeMessageVisibility), and the
   * group must still deliver them in the order they were sent.
   */
  function expire(queue: Queue, now: number): void {
    let returned = false;
    for (const [receipt, entry] of queue.inFlight) {
      if (entry.visibleAt > now) continue;
      queue.inFlight.delete(receipt);
      release(queue, entry.message);
      const key = entry.message.groupId ?? '';
      const group = queue.groups.get(key) ?? [];
      const sequence = BigInt(entry.message.sequence);
      const at = group.findIndex((m) => BigInt(m.sequence) > sequence);
      group.splice(at === -1 ? group.length : at, 0, entry.message);
      queue.groups.set(key, group);
      returned = true;
    }
    if (returned) changed.emit('message');
  }

  function release(queue: Queue, message: StoredMessage): void {
    if (!queue.fifo) return;
    const key = message.groupId ?? '';
    const count = (queue.locked.get(key) ?? 1) - 1;
    if (count <= 0) queue.locked.delete(key);
    else queue.locked.set(key, count);
  }

  function redrive(queue: Queue): { target: Queue; max: number } | null {
    const policy = queue.attributes.RedrivePolicy;
    if (!policy) return null;
    const { deadLetterTargetArn, maxReceiveCount } = JSON.parse(policy) as {
      deadLetterTargetArn: string;
      maxReceiveCount: number | string;
    };
    const target = [...queues.values()].find((q) => q.arn === deadLetterTargetArn);
    return target ? { target, max: Number(maxReceiveCount) } : null;
  }

  function send(queue: Queue, entry: Record<string, unknown>) {
    const body = entry.MessageBody;
    if (typeof body !== 'string' || body.length === 0) {
      throw err('MissingParameter', 'The request must contain the parameter MessageBody.');
    }
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw err('InvalidParameterValue', 'Message must be shorter than 262144 bytes.');
    }
    const groupId = entry.MessageGroupId as string | undefined;
    let dedupId = entry.MessageDeduplicationId as string | undefined;
    const now = Date.now();
    // Entries are kept in the order they were made, each for the same window: the expired
    // ones are at the front.
    for (const [id, entry] of queue.dedup) {
      if (entry.until > now) break;
      queue.dedup.delete(id);
    }
    if (queue.fifo) {
      if (!groupId)
        throw err('MissingParameter', 'The request must contain the parameter MessageGroupId.');
      if (!dedupId) {
        if (queue.attributes.ContentBasedDeduplication !== 'true') {
          throw err(
            'InvalidParameterValue',
            'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
          );
        }
        dedupId = createHash('sha256').update(body).digest('hex');
      }
      const seen = queue.dedup.get(dedupId);
      if (seen && seen.until > now) {
        return {
          MessageId: seen.messageId,
          MD5OfMessageBody: md5(body),
          SequenceNumber: seen.sequence,
        };
      }
    }
    queue.sequence += 1n;
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5: md5(body),
      groupId,
      dedupId,
      sequence: queue.sequence.toString().padStart(20, '0'),
      sentAt: now,
      receiveCount: 0,
      firstReceivedAt: undefined,
    };
    if (queue.fifo && dedupId) {
      queue.dedup.set(dedupId, {
        messageId: message.id,
        sequence: message.sequence,
        until: now + DEDUP_WINDOW_MS,
      });
    }
    const key = groupId ?? '';
    const group = queue.groups.get(key) ?? [];
    group.push(message);
    queue.groups.set(key, group);
    changed.emit('message');
    return {
      MessageId: message.id,
      MD5OfMessageBody: message.md5,
      ...(queue.fifo ? { SequenceNumber: message.sequence } : {}),
    };
  }

  function take(queue: Queue, max: number, visibilitySeconds: number, wanted: Set<string>) {
    const now = Date.now();
    expire(queue, now);
    const dead = redrive(queue);
    const taken: Record<string, unknown>[] = [];
    // Groups in the order of their oldest visible message, as SQS serves them.
    const order = [...queue.groups.entries()]
      .filter(([key, list]) => list.length > 0 && !(queue.fifo && queue.locked.has(key)))
      .sort(([, a], [, b]) => (BigInt(a[0]?.sequence ?? 0) < BigInt(b[0]?.sequence ?? 0) ? -1 : 1));
    for (const [key, group] of order) {
      while (taken.length < max && group.length > 0) {
        const message = group.shift() as StoredMessage;
        if (dead && message.receiveCount >= dead.max) {
          const target = dead.target;
          const list = target.groups.get(key) ?? [];
          list.push({ ...message, receiveCount: 0, firstReceivedAt: undefined });
          target.groups.set(key, list);
          continue;
        }
        message.receiveCount += 1;
        message.firstReceivedAt ??= now;
        const receipt = Buffer.from(`${queue.name}:${message.id}:${randomUUID()}`).toString(
          'base64',
        );
        queue.inFlight.set(receipt, { message, visibleAt: now + visibilitySeconds * 1000 });
        if (queue.fifo) queue.locked.set(key, (queue.locked.get(key) ?? 0) + 1);
        taken.push({
          MessageId: message.id,
          ReceiptHandle: receipt,
          MD5OfBody: message.md5,
          Body: message.body,
          Attributes: systemAttributes(message, wanted),
        });
      }
      if (group.length === 0) queue.groups.delete(key);
      if (taken.length >= max) break;
    }
    return taken;
  }

  function systemAttributes(message: StoredMessage, wanted: Set<string>): Record<string, string> {
    const all: Record<string, string | undefined> = {
      SenderId: ACCOUNT,
      SentTimestamp: String(message.sentAt),
      ApproximateReceiveCount: String(message.receiveCount),
      ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? ''),
      MessageGroupId: message.groupId,
      MessageDeduplicationId: message.dedupId,
      SequenceNumber: message.groupId === undefined ? undefined : message.sequence,
    };
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(all)) {
      if (value !== undefined && (wanted.has('All') || wanted.has(name))) out[name] = value;
    }
    return out;
  }

  function remove(queue: Queue, receipt: string): void {
    // A handle whose visibility ran out is no longer good, even before the next receive.
    expire(queue, Date.now());
    const entry = queue.inFlight.get(receipt);
    if (!entry) {
      // Unknown, or expired and possibly received again: SQS refuses the handle.
      throw err(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receipt.slice(0, 40)}" is not valid.`,
      );
    }
    queue.inFlight.delete(receipt);
    release(queue, entry.message);
    changed.emit('message');
  }

  function batch<T>(entries: unknown, each: (entry: Record<string, unknown>) => T) {
    if (!Array.isArray(entries) || entries.length === 0) {
      throw err('EmptyBatchRequest', 'There should be at least one entry in the request.');
    }
    if (entries.length > MAX_BATCH) {
      throw err(
        'TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are ${MAX_BATCH}.`,
      );
    }
    const ids = entries.map((e) => (e as { Id?: string }).Id);
    if (new Set(ids).size !== ids.length)
      throw err('BatchEntryIdsNotDistinct', 'Two or more batch entries have the same Id.');
    const Successful: (T & { Id: string })[] = [];
    const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
    for (const entry of entries as Record<string, unknown>[]) {
      const Id = String(entry.Id ?? '');
      try {
        Successful.push({ Id, ...each(entry) });
      } catch (error) {
        const e = error as AwsError;
        Failed.push({
          Id,
          SenderFault: e.status < 500,
          Code: e.type?.split('#').pop() ?? 'InternalError',
          Message: e.message,
        });
      }
    }
    return { Successful, Failed };
  }

  const wantedAttributes = (input: Record<string, unknown>) =>
    new Set([
      ...((input.MessageSystemAttributeNames as string[]) ?? []),
      ...((input.AttributeNames as string[]) ?? []),
    ]);

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateQueue(input) {
      const name = String(input.QueueName ?? '');
      if (!/^[A-Za-z0-9_-]{1,75}(\.fifo)?$/.test(name)) {
        throw err(
          'InvalidParameterValue',
          `Can only include alphanumeric characters, hyphens, or underscores (got "${name}")`,
        );
      }
      const attributes: Record<string, string> = {
        VisibilityTimeout: '30',
        MessageRetentionPeriod: '345600',
        DelaySeconds: '0',
        ...((input.Attributes as Record<string, string>) ?? {}),
      };
      const fifo = name.endsWith('.fifo');
      if (fifo !== (attributes.FifoQueue === 'true')) {
        throw err(
          'InvalidParameterValue',
          'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix',
        );
      }
      const existing = queues.get(name);
      if (existing) return { QueueUrl: existing.url };
      const queue: Queue = {
        name,
        url: `${base}/${ACCOUNT}/${name}`,
        arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
        fifo,
        attributes,
        groups: new Map(),
        inFlight: new Map(),
        locked: new Map(),
        dedup: new Map(),
        sequence: 18_000_000_000_000_000_000n,
      };
      queues.set(name, queue);
      return { QueueUrl: queue.url };
    },
    GetQueueUrl(input) {
      const queue = queues.get(String(input.QueueName ?? ''));
      if (!queue) throw err('QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: queue.url };
    },
    GetQueueAttributes(input) {
      const queue = queueOf(input);
      expire(queue, Date.now());
      let visible = 0;
      for (const list of queue.groups.values()) visible += list.length;
      const all: Record<string, string> = {
        ...queue.attributes,
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(visible),
        ApproximateNumberOfMessagesNotVisible: String(queue.inFlight.size),
        ApproximateNumberOfMessagesDelayed: '0',
      };
      const names = (input.AttributeNames as string[]) ?? ['All'];
      return {
        Attributes: names.includes('All')
          ? all
          : Object.fromEntries(names.filter((n) => n in all).map((n) => [n, all[n] as string])),
      };
    },
    SetQueueAttributes(input) {
      Object.assign(queueOf(input).attributes, (input.Attributes as Record<string, string>) ?? {});
      return {};
    },
    SendMessage: (input) => send(queueOf(input), input),
    SendMessageBatch(input) {
      const queue = queueOf(input);
      return batch(input.Entries, (entry) => send(queue, entry));
    },
    DeleteMessage(input) {
      remove(queueOf(input), String(input.ReceiptHandle ?? ''));
      return {};
    },
    DeleteMessageBatch(input) {
      const queue = queueOf(input);
      return batch(input.Entries, (entry) => {
        remove(queue, String(entry.ReceiptHandle ?? ''));
        return {};
      });
    },
    ChangeMessageVisibility(input) {
      const queue = queueOf(input);
      const entry = queue.inFlight.get(String(input.ReceiptHandle ?? ''));
      if (!entry) throw err('MessageNotInflight', 'The message referred to is not in flight.');
      entry.visibleAt = Date.now() + Number(input.VisibilityTimeout ?? 0) * 1000;
      expire(queue, Date.now());
      return {};
    },
    PurgeQueue(input) {
      const queue = queueOf(input);
      queue.groups.clear();
      queue.inFlight.clear();
      queue.locked.clear();
      return {};
    },
  };

  async function receive(input: Record<string, unknown>) {
    const queue = queueOf(input);
    const max = Number(input.MaxNumberOfMessages ?? 1);
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH) {
      throw err(
        'InvalidParameterValue',
        'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.',
      );
    }
    const visibility = Number(input.VisibilityTimeout ?? queue.attributes.VisibilityTimeout ?? 30);
    const wait = Number(
      input.WaitTimeSeconds ?? queue.attributes.ReceiveMessageWaitTimeSeconds ?? 0,
    );
    const wanted = wantedAttributes(input);
    const deadline = Date.now() + Math.min(20, Math.max(0, wait)) * 1000;
    for (;;) {
      const messages = take(queue, max, visibility, wanted);
      const left = deadline - Date.now();
      if (messages.length > 0 || left <= 0)
        return messages.length > 0 ? { Messages: messages } : {};
      // Wake on any change, or when the next in-flight message turns visible.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250));
        function done() {
          clearTimeout(timer);
          changed.off('message', done);
          resolve();
        }
        changed.once('message', done);
      });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (req.method !== 'POST' || !(Object.hasOwn(actions, action) || action === 'ReceiveMessage')) {
      throw err('InvalidAction', `The action "${target}" is not valid for this endpoint.`);
    }
    calls.set(action, (calls.get(action) ?? 0) + 1);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse((await readRequestBody(req, 2 * MAX_BODY_BYTES)).toString('utf8') || '{}');
    } catch (error) {
      if (error instanceof AwsError) throw error;
      throw err('SerializationException', 'body is not JSON');
    }
    const output = JSON.stringify(
      action === 'ReceiveMessage'
        ? await receive(input)
        : (actions[action] as (i: typeof input) => unknown)(input),
    );
    res.writeHead(200, {
      'content-type': CONTENT_TYPE,
      'content-length': Buffer.byteLength(output),
    });
    res.end(output);
  }

  const server = await listenStandIn(port, handle, CONTENT_TYPE);
  base = server.url;
  return { ...server, calls };
}
