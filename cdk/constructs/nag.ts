/**
 * cdk-nag v3 runs as a CDK policy-validation plugin: a finding fails `cdk synth` unless it is
 * acknowledged on the construct (or an ancestor) with its exact id, e.g.
 * `AwsSolutions-IAM5[Resource::*]`. Every acknowledgement here carries its reason.
 */
import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag finding on `scope` and everything under it, with its reason. */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** The logical id of a construct's CloudFormation resource, as cdk-nag prints it in finding ids. */
export function logicalIdOf(construct: IConstruct): string {
  const resource = construct.node.defaultChild as CfnElement | undefined;
  if (!resource) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).resolve(resource.logicalId) as string;
}

/** The region as cdk-nag writes it in an ARN: the literal region, or `<AWS::Region>`. */
export function nagRegion(construct: IConstruct): string {
  const region = Stack.of(construct).region;
  return Token.isUnresolved(region) ? '<AWS::Region>' : region;
}

/** Finds the stack-wide singletons that CDK creates (custom-resource providers) by id prefix. */
export function singletonsOf(stack: Stack, idPrefix: string): IConstruct[] {
  return stack.node.children.filter((child) => child.node.id.startsWith(idPrefix));
}
