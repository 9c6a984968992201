/**
 * Stand-in AWS *clients* with the service semantics the adapters rely on, so the real adapter
 * code runs in tests without an account: the API Gateway management API (410 for gone
 * connections) and SSM Parameter Store (DynamoDB runs on dynalite).
 */
import {
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  GetParameterCommand,
  GetParametersCommand,
  ParameterNotFound,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import type { ServerMessage } from '../../functions/core/protocol.ts';
import './aws-sdk-env.ts';

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
