import { describe, expect, it } from 'vitest';
import { mainSiteUrl, safeReturnPath } from '../../../functions/core/return-path.ts';

const ORIGIN = 'https://shop.example.com';

describe('safeReturnPath', () => {
  it.each([
    ['/', '/'],
    ['/tickets', '/tickets'],
    ['/tickets?show=evening&seat=12', '/tickets?show=evening&seat=12'],
    ['/a/../b', '/b'],
    ['/caf%C3%A9', '/caf%C3%A9'],
  ])('keeps the main-site path %s as %s', (raw, expected) => {
    expect(safeReturnPath(raw, ORIGIN)).toBe(expected);
  });

  it('drops the fragment', () => {
    expect(safeReturnPath('/page#section', ORIGIN)).toBe('/page');
  });

  it.each([
    '//evil.example',
    '//evil.example/path',
    '/\\evil.example',
    '\\\\evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '/%2f/evil.example',
    '/%5Cevil.example',
    'https://evil.example',
    'https://shop.example.com.evil.example/',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,hi',
    '/ok\r\nSet-Cookie: x=1',
    '/ok%0d%0aSet-Cookie:%20x=1',
    '/\t/evil.example',
    'tickets',
    '',
    '/%E0%A4%A',
    `/${'a'.repeat(5000)}`,
  ])('replaces %j with /', (raw) => {
    expect(safeReturnPath(raw, ORIGIN)).toBe('/');
  });

  it.each([42, null, undefined, {}, ['/tickets'], true])(
    'replaces the non-string %j with /',
    (raw) => {
      expect(safeReturnPath(raw, ORIGIN)).toBe('/');
    },
  );
});

describe('mainSiteUrl', () => {
  it('joins the origin, the path and extra parameters', () => {
    expect(mainSiteUrl(ORIGIN, '/tickets?show=1', { wr_pass: 'abc' })).toBe(
      'https://shop.example.com/tickets?show=1&wr_pass=abc',
    );
  });

  it('never leaves the origin even when handed an unsafe path', () => {
    expect(new URL(mainSiteUrl(ORIGIN, '//evil.example/x')).origin).toBe(ORIGIN);
  });
});
