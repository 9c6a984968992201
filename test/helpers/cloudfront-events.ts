/**
 * Lambda@Edge viewer-request events shaped like the ones CloudFront sends (see "Lambda@Edge event
 * structure" in the CloudFront developer guide): lowercase header names mapping to arrays of
 * `{ key, value }`, the path in `uri`, the raw query string without `?` in `querystring`.
 */
import type {
  CloudFrontHeaders,
  CloudFrontRequest,
  CloudFrontRequestEvent,
} from '../../edge/cloudfront-types.ts';

export interface ViewerRequestInit {
  method?: string;
  uri?: string;
  querystring?: string;
  /** The `Host` header; null for a request without one. @default 'shop.example.com' */
  host?: string | null;
  /** One entry per `Cookie` header the viewer sent; CloudFront keeps them apart. */
  cookies?: string[];
  /** Extra headers by their viewer casing, one value each. */
  headers?: Record<string, string>;
  clientIp?: string;
}

/** A viewer-request event for one request; defaults to a browser's `GET /`. */
export function viewerRequestEvent(init: ViewerRequestInit = {}): CloudFrontRequestEvent {
  const host = init.host === undefined ? 'shop.example.com' : init.host;
  const headers: CloudFrontHeaders = {
    ...(host === null ? {} : { host: [{ key: 'Host', value: host }] }),
    'user-agent': [
      {
        key: 'User-Agent',
        value:
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0',
      },
    ],
    accept: [{ key: 'Accept', value: 'text/html,application/xhtml+xml,*/*;q=0.8' }],
  };
  for (const [name, value] of Object.entries(init.headers ?? {})) {
    headers[name.toLowerCase()] = [{ key: name, value }];
  }
  if (init.cookies && init.cookies.length > 0) {
    headers.cookie = init.cookies.map((value) => ({ key: 'Cookie', value }));
  }
  const request: CloudFrontRequest = {
    clientIp: init.clientIp ?? '203.0.113.178',
    headers,
    method: init.method ?? 'GET',
    querystring: init.querystring ?? '',
    uri: init.uri ?? '/',
  };
  return {
    Records: [
      {
        cf: {
          config: {
            distributionDomainName: 'd111111abcdef8.cloudfront.net',
            distributionId: 'EDFDVBD6EXAMPLE',
            eventType: 'viewer-request',
            requestId: '4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==',
          },
          request,
        },
      },
    ],
  };
}
