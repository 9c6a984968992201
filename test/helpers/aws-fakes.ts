/**
 * Stand-in AWS *clients* with the service semantics the adapters rely on, so the real adapter
 * code runs in tests without an account: an SQS FIFO queue (one ordered group, deduplication
 * window, visibility timeout, SequenceNumbers), the API Gateway management API (410 for gone
 * connections) and SSM Parameter Store.
 */
import {
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  type BatchResultErrorEntry,
  DeleteMessageBatchCommand,
  type DeleteMessageBatchResultEntry,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import {
  GetParameterCommand,
  GetParametersCommand,
  ParameterNotFound,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import type { Clock } from '../../functions/core/ports.ts';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import './aws-sdk-env.ts';

const DEDUPLICATION_WINDOW_MS = 5 * 60_000;

interface QueuedMessage {
  messageId: string;
  body: string;
  groupId: string;
  sequence: bigint;
  receipt: string | null;
  invisibleUntil: number;
  receiveCount: number;
  deleted: boolean;
}

/** An SQS FIFO queue behind the SQS client's `send`. */
export class FakeFifoSqs {
  readonly #messages: QueuedMessage[] = [];
  readonly #deduplication = new Map<string, { at: number; message: QueuedMessage }>();
  // Real SequenceNumbers are 20-digit decimals that grow within a group.
  #sequence = 18_849_496_460_467_696_128n;
  #ids = 0;
  /** Command names in the order received. */
  readonly calls: string[] = [];
  /** The next N delete entries fail (as an SQS-side failure). */
  failDeletes = 0;

  constructor(private readonly clock: Clock) {}

  async send(command: unknown): Promise<unknown> {
    if (command instanceof SendMessageCommand) return this.#sendMessage(command.input);
    if (command instanceof ReceiveMessageCommand) return this.#receive(command.input);
    if (command instanceof DeleteMessageBatchCommand) return this.#deleteBatch(command.input);
    if (command instanceof GetQueueAttributesCommand) return this.#attributes();
    throw new Error(`FakeFifoSqs does not implement ${(command as object).constructor.name}`);
  }

  /** Messages not yet deleted, in order. */
  get depth(): number {
    return this.#messages.filter((m) => !m.deleted).length;
  }

  #sendMessage(input: SendMessageCommand['input']) {
    this.calls.push('SendMessage');
    const { MessageGroupId, MessageDeduplicationId, MessageBody } = input;
    if (!MessageGroupId || !MessageDeduplicationId || MessageBody === undefined) {
      throw Object.assign(new Error('FIFO messages need a group id and a deduplication id'), {
        name: 'MissingParameter',
      });
    }
    const now = this.clock.now();
    const seen = this.#deduplication.get(MessageDeduplicationId);
    if (seen && now - seen.at < DEDUPLICATION_WINDOW_MS) {
      return { MessageId: seen.message.messageId, SequenceNumber: String(seen.message.sequence) };
    }
    this.#sequence += 1n + BigInt(this.#ids % 3) * 1000n;
    const message: QueuedMessage = {
      messageId: `m-${++this.#ids}`,
      body: MessageBody,
      groupId: MessageGroupId,
      sequence: this.#sequence,
      receipt: null,
      invisibleUntil: 0,
      receiveCount: 0,
      deleted: false,
    };
    this.#messages.push(message);
    this.#deduplication.set(MessageDeduplicationId, { at: now, message });
    return { MessageId: message.messageId, SequenceNumber: String(message.sequence) };
  }

  #receive(input: ReceiveMessageCommand['input']) {
    this.calls.push('ReceiveMessage');
    const now = this.clock.now();
    const max = input.MaxNumberOfMessages ?? 1;
    if (max < 1 || max > 10) throw new Error('MaxNumberOfMessages must be 1 to 10');
    const visibilityMs = (input.VisibilityTimeout ?? 30) * 1000;
    const wantsSequence = input.MessageSystemAttributeNames?.includes('SequenceNumber') ?? false;
    const messages: Message[] = [];
    for (const message of this.#messages) {
      if (message.deleted) continue;
      // FIFO: a message in flight blocks the rest of its group.
      if (message.invisibleUntil > now || messages.length >= max) break;
      message.receipt = `rh-${message.messageId}-${++message.receiveCount}`;
      message.invisibleUntil = now + visibilityMs;
      messages.push({
        MessageId: message.messageId,
        ReceiptHandle: message.receipt,
        Body: message.body,
        ...(wantsSequence ? { Attributes: { SequenceNumber: String(message.sequence) } } : {}),
      });
    }
    return { Messages: messages.length > 0 ? messages : undefined };
  }

  #deleteBatch(input: DeleteMessageBatchCommand['input']) {
    this.calls.push('DeleteMessageBatch');
    const entries = input.Entries ?? [];
    if (entries.length === 0 || entries.length > 10) throw new Error('1 to 10 entries per batch');
    const Successful: DeleteMessageBatchResultEntry[] = [];
    const Failed: BatchResultErrorEntry[] = [];
    for (const entry of entries) {
      if (this.failDeletes > 0) {
        this.failDeletes -= 1;
        Failed.push({ Id: entry.Id, Code: 'InternalError', SenderFault: false });
        continue;
      }
      const message = this.#messages.find((m) => m.receipt === entry.ReceiptHandle);
      if (!message) {
        Failed.push({ Id: entry.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true });
        continue;
      }
      message.deleted = true;
      Successful.push({ Id: entry.Id });
    }
    return { Successful, Failed };
  }

  #attributes() {
    this.calls.push('GetQueueAttributes');
    const now = this.clock.now();
    const live = this.#messages.filter((m) => !m.deleted);
    const inFlight = live.filter((m) => m.invisibleUntil > now).length;
    return {
      Attributes: {
        ApproximateNumberOfMessages: String(live.length - inFlight),
        ApproximateNumberOfMessagesNotVisible: String(inFlight),
      },
    };
  }
}

/** The API Gateway management API: records posts, answers 410 for gone connections. */
export class FakeManagementApi {
  readonly posts = new Map<string, ServerMessage[]>();
  readonly gone = new Set<string>();
  /** The next N posts fail with a 500. */
  failNext = 0;
  /** The next N posts are throttled (429). */
  throttleNext = 0;

  async send(command: unknown): Promise<unknown> {
    if (!(command instanceof PostToConnectionCommand)) {
      throw new Error(
        `FakeManagementApi does not implement ${(command as object).constructor.name}`,
      );
    }
    const { ConnectionId = '', Data } = command.input;
    if (this.throttleNext > 0) {
      this.throttleNext -= 1;
      throw new LimitExceededException({
        message: 'slow down',
        $metadata: { httpStatusCode: 429 },
      });
    }
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw Object.assign(new Error('internal failure'), {
        name: 'InternalServerErrorException',
        $metadata: { httpStatusCode: 500 },
      });
    }
    if (this.gone.has(ConnectionId)) {
      throw new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } });
    }
    const text = typeof Data === 'string' ? Data : new TextDecoder().decode(Data as Uint8Array);
    const list = this.posts.get(ConnectionId) ?? [];
    list.push(JSON.parse(text) as ServerMessage);
    this.posts.set(ConnectionId, list);
    return { $metadata: { httpStatusCode: 200 } };
  }

  messages(connectionId: string): ServerMessage[] {
    return this.posts.get(connectionId) ?? [];
  }
}

/** SSM Parameter Store: String and SecureString parameters by name. */
export class FakeSsm {
  readonly parameters = new Map<string, { value: string; type: string }>();
  /** The next N calls fail (as SSM throttling). */
  failNext = 0;
  calls = 0;

  async send(command: unknown): Promise<unknown> {
    this.calls += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
    }
    if (command instanceof GetParametersCommand) {
      const names = command.input.Names ?? [];
      return {
        Parameters: names
          .filter((name) => this.parameters.has(name))
          .map((Name) => ({ Name, Value: this.parameters.get(Name)?.value, Type: 'String' })),
        InvalidParameters: names.filter((name) => !this.parameters.has(name)),
      };
    }
    if (command instanceof GetParameterCommand) {
      const name = command.input.Name ?? '';
      const parameter = this.parameters.get(name);
      if (!parameter) throw new ParameterNotFound({ message: name, $metadata: {} });
      return { Parameter: { Name: name, Value: parameter.value, Type: parameter.type } };
    }
    if (command instanceof PutParameterCommand) {
      const { Name = '', Value = '', Type = 'String', Overwrite } = command.input;
      if (this.parameters.has(Name) && !Overwrite) {
        throw Object.assign(new Error('exists'), { name: 'ParameterAlreadyExists' });
      }
      this.parameters.set(Name, { value: Value, type: Type });
      return { Version: 1 };
    }
    throw new Error(`FakeSsm does not implement ${(command as object).constructor.name}`);
  }
}
