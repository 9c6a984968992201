/**
 * Reading the pass out of a request: the `Cookie` header and the raw query string. Both run on
 * every gated request, on headers an attacker controls, so every loop here is linear in the
 * input and the number of values kept is capped.
 */

/**
 * Returns the distinct non-empty values of cookie `name`, in header order, at most `limit` of
 * them. Tolerates spaces around names and values, pairs without `=`, duplicates, and values
 * wrapped in double quotes (RFC 6265 allows `name="value"`).
 */
export function cookieValues(header: string | undefined, name: string, limit: number): string[] {
  const values: string[] = [];
  // Cheap exit for the common case of a visitor without the cookie.
  if (!header || limit <= 0 || !header.includes(name)) return values;
  let start = 0;
  while (start < header.length && values.length < limit) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    // Look for `=` inside this pair only: searching the rest of the header from every pair
    // would make a header of many `;` quadratic.
    const pair = header.slice(start, end);
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) {
      const value = unquote(pair.slice(eq + 1).trim());
      if (value.length > 0 && !values.includes(value)) values.push(value);
    }
    start = end + 1;
  }
  return values;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}

/** A raw query string split into the values of one parameter and everything else. */
export interface QuerySplit {
  /** Distinct decoded values of the parameter, in order, at most the limit asked for. */
  values: string[];
  /** The other `&`-separated parts, byte for byte and in their order, joined by `&`. */
  rest: string;
}

/**
 * Takes every occurrence of parameter `name` out of a raw query string (no leading `?`). Names
 * are compared after form decoding, the way `URLSearchParams` reads them, so `wr%5Fpass` is the
 * same parameter as `wr_pass`; the other parts are kept exactly as they came.
 */
export function takeQueryParam(query: string, name: string, limit: number): QuerySplit {
  if (query.length === 0) return { values: [], rest: '' };
  const values: string[] = [];
  const kept: string[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    if (formDecode(rawName) !== name) {
      if (part.length > 0) kept.push(part);
      continue;
    }
    const value = eq === -1 ? '' : formDecode(part.slice(eq + 1));
    if (value.length > 0 && values.length < limit && !values.includes(value)) values.push(value);
  }
  return { values, rest: kept.join('&') };
}

/** `application/x-www-form-urlencoded` decoding that never throws: bad escapes stay as they are. */
function formDecode(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
