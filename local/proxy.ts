/**
 * Proxies the main site to `WR_UPSTREAM` once the gate lets a request through: method, path,
 * query, body, status and headers pass unchanged, except the hop-by-hop headers that belong to
 * each connection and `Host`, which names the upstream.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { sendText, urlHoldsPass } from './http-util.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardable(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host') continue;
    out[name] = value;
  }
  return out;
}

export function createUpstreamProxy(upstream: string) {
  const target = new URL(upstream);
  const client = target.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: true, maxSockets: 256 });

  return (req: IncomingMessage, res: ServerResponse): void => {
    const headers = forwardable(req.headers);
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http';
    const upstreamReq = client.request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, host: target.host },
        agent,
      },
      (upstreamRes) => {
        const headers = forwardable(upstreamRes.headers);
        // The gate lets a non-GET with a valid pass in its query through unchanged.
        if (urlHoldsPass(req.url)) headers['referrer-policy'] = 'no-referrer';
        res.writeHead(upstreamRes.statusCode ?? 502, headers);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      if (!res.headersSent) sendText(res, 502, 'The main site did not answer.');
      else res.destroy();
    });
    req.pipe(upstreamReq);
  };
}
