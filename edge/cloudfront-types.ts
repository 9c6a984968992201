/**
 * The small part of the Lambda@Edge event and result shapes that the gate uses, written out here
 * instead of pulling in `@types/aws-lambda`. Field names and casing follow the CloudFront
 * "Lambda@Edge event structure" reference.
 */

/** One header value; `key` keeps the viewer's casing, the map key is always lowercase. */
export interface CloudFrontHeader {
  key?: string;
  value: string;
}

/**
 * Headers by lowercase name. A name maps to several entries when the viewer sent the header
 * several times; CloudFront does this with `cookie` in particular.
 */
export type CloudFrontHeaders = Record<string, CloudFrontHeader[]>;

/** The viewer's request as a viewer-request function sees it. */
export interface CloudFrontRequest {
  clientIp: string;
  method: string;
  /** The path, starting with `/`, as the viewer sent it (not decoded). */
  uri: string;
  /** The raw query string without the leading `?`; empty when there is none. */
  querystring: string;
  headers: CloudFrontHeaders;
  body?: {
    inputTruncated: boolean;
    action: 'read-only' | 'replace';
    encoding: 'base64' | 'text';
    data: string;
  };
  origin?: Record<string, unknown>;
}

export interface CloudFrontEventConfig {
  distributionDomainName: string;
  distributionId: string;
  eventType: 'viewer-request' | 'origin-request' | 'origin-response' | 'viewer-response';
  requestId: string;
}

export interface CloudFrontRequestEvent {
  Records: Array<{ cf: { config: CloudFrontEventConfig; request: CloudFrontRequest } }>;
}

/** A response generated at the edge; CloudFront wants the status as a string. */
export interface CloudFrontResultResponse {
  status: string;
  statusDescription?: string;
  headers?: CloudFrontHeaders;
  bodyEncoding?: 'text' | 'base64';
  body?: string;
}

export type CloudFrontRequestResult = CloudFrontRequest | CloudFrontResultResponse;
