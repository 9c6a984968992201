/**
 * The console's access token: `npm run room -- console` prints an address with it in the
 * fragment (`/#token=...`, which no request carries). The page keeps it in sessionStorage (this
 * origin, so this port, only; this tab only; gone when the tab closes) and clears it from the
 * address bar, so it is in neither the history nor a shared screenshot.
 */

export const TOKEN_KEY = 'wr-console-token';

export interface TokenPlace {
  location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  history: Pick<History, 'replaceState' | 'state'>;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
}

/** Takes a token from the address into storage (clearing it there); the token held, or null. */
export function takeToken({ location, history, storage }: TokenPlace): string | null {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const offered = fragment.get('token');
  if (offered !== null) {
    if (offered !== '') storage.setItem(TOKEN_KEY, offered);
    history.replaceState(history.state, '', `${location.pathname}${location.search}`);
  }
  return storage.getItem(TOKEN_KEY) || null;
}
