import { describe, expect, it } from 'vitest';
import { cookieValues, takeQueryParam } from '../../../edge/request-parts.ts';

describe('cookieValues', () => {
  it('returns nothing when there is no Cookie header', () => {
    expect(cookieValues(undefined, 'wr_pass', 4)).toEqual([]);
  });

  it('returns the values of the named cookie in header order, without duplicates', () => {
    const header = 'a=1; wr_pass=x; b=2;wr_pass=y ; wr_pass=x';

    const values = cookieValues(header, 'wr_pass', 4);

    expect(values).toEqual(['x', 'y']);
  });

  it('does not take a cookie whose name only ends with the one asked for', () => {
    const values = cookieValues('my_wr_pass=x; wr_pass_old=y', 'wr_pass', 4);

    expect(values).toEqual([]);
  });

  it('skips pairs without an equals sign and empty values', () => {
    const values = cookieValues('wr_pass; wr_pass=; ;; wr_pass=z', 'wr_pass', 4);

    expect(values).toEqual(['z']);
  });

  it('stops at the limit', () => {
    const values = cookieValues('wr_pass=1; wr_pass=2; wr_pass=3', 'wr_pass', 2);

    expect(values).toEqual(['1', '2']);
  });
});

describe('takeQueryParam', () => {
  it('returns an empty split for an empty query', () => {
    expect(takeQueryParam('', 'wr_pass', 4)).toEqual({ values: [], rest: '' });
  });

  it('takes every occurrence out and keeps the other parts byte for byte', () => {
    const split = takeQueryParam('b=%2F&wr_pass=t1&a&wr_pass=t2&c=x+y', 'wr_pass', 4);

    expect(split).toEqual({ values: ['t1', 't2'], rest: 'b=%2F&a&c=x+y' });
  });

  it('recognises a percent-encoded parameter name', () => {
    const split = takeQueryParam('wr%5fpass=t&x=1', 'wr_pass', 4);

    expect(split).toEqual({ values: ['t'], rest: 'x=1' });
  });

  it('survives malformed percent escapes', () => {
    const split = takeQueryParam('%E0%A4%A=1&wr_pass=%zz', 'wr_pass', 4);

    expect(split).toEqual({ values: ['%zz'], rest: '%E0%A4%A=1' });
  });

  it('still strips occurrences beyond the limit from the rest', () => {
    const split = takeQueryParam('wr_pass=1&wr_pass=2&wr_pass=3&k=v', 'wr_pass', 1);

    expect(split).toEqual({ values: ['1'], rest: 'k=v' });
  });
});
