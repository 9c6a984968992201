/**
 * The operator's room config in SSM: `${prefix}enabled` and `${prefix}admit-per-minute`, and the
 * fair-launch settings `${prefix}opens-at` (`none`), `${prefix}pow-cost` (`0`), `${prefix}message`
 * (`none`) and `${prefix}closed` (`none`), plain String parameters (one cannot be empty, hence
 * the word `none`; `functions/adapters/aws/ssm-config.ts` reads them).
 *
 * They are made by a custom resource that calls `PutParameter` with `Overwrite: false` and takes
 * `ParameterAlreadyExists` as success, on create and on update alike, and does nothing on delete.
 * So the first deploy sets the initial values, and no deploy after it (nor a stack deleted and
 * made again) ever changes what an operator has set with `npm run room -- ... --aws`. An
 * `ssm.StringParameter` would not do: CloudFormation owns its value and writes it back on every
 * update that touches it.
 */
import { Stack } from 'aws-cdk-lib';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  CLOSED_PARAMETER,
  ENABLED_PARAMETER,
  MESSAGE_PARAMETER,
  OPENS_AT_PARAMETER,
  POW_COST_PARAMETER,
  RATE_PARAMETER,
} from '../../functions/adapters/aws/ssm-config.ts';
import { NONE } from '../../functions/core/room-settings.ts';
import type { BindableRoomConfig } from './waiting-room-function.ts';

export interface RoomConfigParametersProps {
  /** E.g. `/waiting-room/config/`. */
  prefix: string;
  /** Initial values, used only when a parameter does not exist yet. */
  initialEnabled: boolean;
  initialAdmitPerMinute: number;
}

export class RoomConfigParameters extends Construct implements BindableRoomConfig {
  readonly prefix: string;
  readonly enabledParameterName: string;
  readonly admitPerMinuteParameterName: string;
  /** Every parameter's name: enabled, the rate and the fair-launch settings. */
  readonly parameterNames: readonly string[];
  readonly parameterArns: readonly string[];

  constructor(scope: Construct, id: string, props: RoomConfigParametersProps) {
    super(scope, id);
    this.prefix = props.prefix;
    this.enabledParameterName = `${props.prefix}${ENABLED_PARAMETER}`;
    this.admitPerMinuteParameterName = `${props.prefix}${RATE_PARAMETER}`;

    const parameters = [
      {
        id: 'Enabled',
        name: this.enabledParameterName,
        value: String(props.initialEnabled),
        description:
          'Waiting room on (true) or off (false). Set by operators; a deploy never overwrites it.',
      },
      {
        id: 'AdmitPerMinute',
        name: this.admitPerMinuteParameterName,
        value: String(props.initialAdmitPerMinute),
        description:
          'Visitors admitted per minute (0 pauses admission). Set by operators; a deploy never overwrites it.',
      },
      {
        id: 'OpensAt',
        name: `${props.prefix}${OPENS_AT_PARAMETER}`,
        value: NONE,
        description:
          'When admission opens (ISO-8601 with its zone), or none. Set by operators; a deploy never overwrites it.',
      },
      {
        id: 'PowCost',
        name: `${props.prefix}${POW_COST_PARAMETER}`,
        value: '0',
        description:
          'Proof-of-work cost of a join (0: off). Set by operators; a deploy never overwrites it.',
      },
      {
        id: 'Message',
        name: `${props.prefix}${MESSAGE_PARAMETER}`,
        value: NONE,
        description:
          "The operator's words to everyone waiting (plain text), or none. Set by operators; a deploy never overwrites it.",
      },
      {
        id: 'Closed',
        name: `${props.prefix}${CLOSED_PARAMETER}`,
        value: NONE,
        description:
          'The sale is over: the closing words (plain text), or none. Set by operators; a deploy never overwrites it.',
      },
    ];

    this.parameterNames = parameters.map((p) => p.name);
    this.parameterArns = parameters.map((p) => parameterArn(this, p.name));

    for (const parameter of parameters) {
      const createOnce: cr.AwsSdkCall = {
        service: 'SSM',
        action: 'putParameter',
        parameters: {
          Name: parameter.name,
          Value: parameter.value,
          Type: 'String',
          Overwrite: false,
          Description: parameter.description,
        },
        physicalResourceId: cr.PhysicalResourceId.of(parameter.name),
        ignoreErrorCodesMatching: 'ParameterAlreadyExists',
      };
      new cr.AwsCustomResource(this, parameter.id, {
        resourceType: 'Custom::RoomConfigParameter',
        onCreate: createOnce,
        // Same call: a changed description or initial value must not touch an existing value.
        onUpdate: createOnce,
        // No onDelete: the operator's setting outlives the stack.
        policy: cr.AwsCustomResourcePolicy.fromSdkCalls({
          resources: [parameterArn(this, parameter.name)],
        }),
        installLatestAwsSdk: false,
      });
    }
  }
}

/** ARN of an SSM parameter whose name starts with `/`. */
export function parameterArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: name.replace(/^\//, ''),
  });
}
