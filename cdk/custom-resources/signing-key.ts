/**
 * Custom resource (behind the CDK Provider framework) that makes the room's signing key at deploy
 * time: a P-256 key generated with node:crypto, stored as PKCS#8 PEM in an SSM SecureString, and
 * never overwritten. It returns only the public half (as a JWK, and as a JWKS document), which the
 * stack publishes at `/.well-known/jwks.json`.
 *
 * - Create / Update: `PutParameter` with `Overwrite: false`. When the parameter already exists
 *   (a stack that was deleted and made again, or a key an operator put there), that key is kept
 *   and its public half returned, so passes already issued stay valid.
 * - Delete: nothing. The key outlives the stack on purpose: deleting it would invalidate every
 *   pass and ticket in flight, and an operator can delete the parameter by hand.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  GetParameterCommand,
  ParameterAlreadyExists,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { publicJwkOf } from './public-jwk.ts';

/** What the Provider framework expects back from an onEvent handler. */
export interface SigningKeyResponse {
  PhysicalResourceId: string;
  Data?: { PublicJwk: string; Jwks: string; Kid: string };
}

export interface SigningKeyHandlerOptions {
  ssm?: Pick<SSMClient, 'send'>;
}

/** Builds the handler; a test hands in another SSM client. */
export function createSigningKeyHandler(options: SigningKeyHandlerOptions = {}) {
  const ssm = options.ssm ?? new SSMClient({});

  return async (event: CloudFormationCustomResourceEvent): Promise<SigningKeyResponse> => {
    const name = event.ResourceProperties.ParameterName;
    if (typeof name !== 'string' || !name.startsWith('/')) {
      throw new Error('ParameterName must be an SSM parameter name starting with /');
    }
    if (event.RequestType === 'Delete') {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }

    const pem = await createOrReadKey(ssm, name);
    const jwk = publicJwkOf(pem);
    return {
      PhysicalResourceId: name,
      Data: {
        PublicJwk: JSON.stringify(jwk),
        Jwks: JSON.stringify({ keys: [jwk] }),
        Kid: jwk.kid,
      },
    };
  };
}

async function createOrReadKey(ssm: Pick<SSMClient, 'send'>, name: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: pem,
        Type: 'SecureString',
        Overwrite: false,
        Description: 'Waiting room pass signing key (PKCS#8 PEM, P-256). Created once by deploy.',
      }),
    );
    return pem;
  } catch (error) {
    if (!(error instanceof ParameterAlreadyExists || isNamed(error, 'ParameterAlreadyExists'))) {
      throw error;
    }
  }
  const existing = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
  const value = existing.Parameter?.Value;
  if (!value) throw new Error(`parameter ${name} exists but has no value`);
  return value;
}

function isNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

export const handler = createSigningKeyHandler();
