/**
 * The pure parts of the upstream proxy: which targets and framings it forwards, and what it
 * makes of the headers both ways. The proxy itself is tested end to end in
 * test/integration/attacks-proxy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { originFormOf } from '../../../edge/node-gate.ts';
import {
  clientKey,
  forwardRequestHeaders,
  forwardResponseHeaders,
  framingError,
  targetError,
  withoutPassCookie,
  withoutPassQuery,
} from '../../../local/proxy.ts';

describe('originFormOf', () => {
  it.each([
    ['/tickets?show=1', '/tickets?show=1'],
    ['http://evil.example/tickets?show=1', '/tickets?show=1'],
    ['HTTPS://evil.example:8443', '/'],
    ['http://evil.example?x=1', '/?x=1'],
    ['http://x/a/%2e%2e/.well-known/x', '/a/%2e%2e/.well-known/x'],
    ['http://user@x/a/../b', '/a/../b'],
  ])('makes %j into %j, byte for byte', (target, expected) => {
    expect(originFormOf(target)).toBe(expected);
  });

  it.each(['*', 'evil.example:443', 'ftp://x/a', 'tickets'])('has no path for %j', (target) => {
    expect(originFormOf(target)).toBeNull();
  });
});

describe('targetError', () => {
  it.each([
    '/',
    '/tickets?show=evening',
    '/a/b.c/d..e/.well-known-ish',
    '/caf%C3%A9?q=%2F..%2F',
    '/a;b=c/d',
  ])('forwards %j', (target) => {
    expect(targetError(target)).toBeNull();
  });

  it.each([
    ['*', 'not a path'],
    ['/a/../b', 'a dot segment'],
    ['/a/./b', 'a dot segment'],
    ['/a/..', 'a dot segment'],
    ['/a/%2e%2E/b', 'a dot segment'],
    ['/a/.%2e/b', 'a dot segment'],
    ['/a/..;x=1/b', 'a dot segment'],
    ['/a\\b', 'a backslash'],
    ['/a%5Cb', 'a backslash'],
    ['/a%2fb', 'an encoded slash'],
    ['//b', 'an empty segment'],
    ['/a//b', 'an empty segment'],
    ['/a%00b', 'a control character'],
    ['/a%0d%0ab', 'a control character'],
    ['/a#b', 'a fragment'],
  ])('refuses %j: %s', (target, reason) => {
    expect(targetError(target)).toBe(reason);
  });
});

describe('framingError', () => {
  it('takes a POST with a Content-Length, or chunked, or neither', () => {
    expect(framingError('POST', { 'content-length': '5' })).toBeNull();
    expect(framingError('POST', { 'transfer-encoding': 'chunked' })).toBeNull();
    expect(framingError('POST', { 'transfer-encoding': 'Chunked' })).toBeNull();
    expect(framingError('POST', {})).toBeNull();
  });

  it('takes a GET without a body, or with Content-Length: 0', () => {
    expect(framingError('GET', {})).toBeNull();
    expect(framingError('GET', { 'content-length': '0' })).toBeNull();
  });

  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'get'])(
    'refuses a body on %s, chunked or with a length',
    (method) => {
      expect(framingError(method, { 'transfer-encoding': 'chunked' })).toBe(`a body on ${method}`);
      expect(framingError(method, { 'content-length': '1' })).toBe(`a body on ${method}`);
    },
  );

  it('refuses both framings at once, and any coding but chunked', () => {
    expect(framingError('POST', { 'content-length': '5', 'transfer-encoding': 'chunked' })).toBe(
      'both Content-Length and Transfer-Encoding',
    );
    for (const te of ['gzip, chunked', 'chunked, chunked', 'identity', 'xchunked', '']) {
      expect(framingError('POST', { 'transfer-encoding': te })).toBe(
        'a Transfer-Encoding other than chunked',
      );
    }
  });
});

describe('the pass on its way to the upstream', () => {
  it('leaves the Cookie header without wr_pass, the others in order', () => {
    expect(withoutPassCookie('a=1; wr_pass=x; b=2;wr_pass=y')).toBe('a=1; b=2');
    expect(withoutPassCookie(' wr_pass = x ')).toBeUndefined();
    expect(withoutPassCookie('wr_passport=1')).toBe('wr_passport=1');
    expect(withoutPassCookie(undefined)).toBeUndefined();
  });

  it('leaves the query without wr_pass, the other parameters byte for byte', () => {
    expect(withoutPassQuery('/a?x=%41&wr_pass=t&y=2')).toBe('/a?x=%41&y=2');
    expect(withoutPassQuery('/a?wr%5Fpass=t')).toBe('/a');
    expect(withoutPassQuery('/a?x=1')).toBe('/a?x=1');
    expect(withoutPassQuery('/a')).toBe('/a');
  });
});

describe('forwardRequestHeaders', () => {
  const client = { address: '::ffff:203.0.113.9', proto: 'https' as const, host: 'shop.example' };

  it('sets the forwarding headers from what the room saw, not from the client', () => {
    const out = forwardRequestHeaders(
      {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-prefix': '/admin',
        'x-real-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-original-url': '/admin',
        host: 'shop.example',
        accept: 'text/html',
      },
      client,
    );

    expect(out).toEqual({
      accept: 'text/html',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example',
      forwarded: 'for=203.0.113.9;host="shop.example";proto=https',
    });
  });

  it('quotes an IPv6 client in Forwarded', () => {
    const out = forwardRequestHeaders(
      {},
      { address: '2001:db8::1', proto: 'http', host: undefined },
    );

    expect(out.forwarded).toBe('for="[2001:db8::1]";proto=http');
    expect(out['x-forwarded-host']).toBeUndefined();
  });

  it('drops hop-by-hop headers, those Connection names, framing and Expect', () => {
    const out = forwardRequestHeaders(
      {
        connection: 'keep-alive, X-Secret',
        'x-secret': 's',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        'content-length': '5',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic x',
        expect: '100-continue',
        'x-kept': 'yes',
      },
      client,
    );

    expect(Object.keys(out).sort()).toEqual([
      'forwarded',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-kept',
    ]);
  });

  it('sends the other cookies and no wr_pass', () => {
    expect(forwardRequestHeaders({ cookie: 'wr_pass=t; a=1' }, client).cookie).toBe('a=1');
    expect(forwardRequestHeaders({ cookie: 'wr_pass=t' }, client)).not.toHaveProperty('cookie');
  });
});

describe('forwardResponseHeaders', () => {
  it('drops a wr_pass Set-Cookie, hop-by-hop headers and those Connection names', () => {
    const out = forwardResponseHeaders({
      'set-cookie': ['wr_pass=planted; Path=/', 'session=1', ' wr_pass =x'],
      connection: 'close, x-internal',
      'x-internal': 'secret',
      'transfer-encoding': 'chunked',
      'content-type': 'text/html',
    });

    expect(out).toEqual({ 'set-cookie': ['session=1'], 'content-type': 'text/html' });
  });

  it('drops Set-Cookie altogether when it only set wr_pass', () => {
    expect(forwardResponseHeaders({ 'set-cookie': 'wr_pass=x' })).toEqual({});
  });
});

describe('clientKey', () => {
  it('keys IPv4 by address, IPv4-mapped as IPv4', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('keys IPv6 by its /64', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});
