import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { brandProperties } from './lib/brand-palette.ts';
import {
  displayHost,
  loadConfig,
  readIdentity,
  readReturnPath,
  resolveSocketUrl,
  withoutIdentity,
} from './lib/config.ts';
import { browserLanguages, pageTexts } from './lib/i18n.ts';
import { type KeyValueStorage, WaitingRoom } from './lib/waiting-room.svelte.ts';

/**
 * `localStorage` keeps the ticket across reloads and shares it with other tabs. Where it is
 * unavailable (blocked cookies, some privacy modes) the place lives as long as this page does.
 */
function browserStorage(): KeyValueStorage {
  try {
    const storage = window.localStorage;
    storage.setItem('wr_probe', '1');
    storage.removeItem('wr_probe');
    return storage;
  } catch {
    const items = new Map<string, string>();
    return {
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) => void items.set(key, value),
      removeItem: (key) => void items.delete(key),
    };
  }
}

/**
 * The site's identity token from the page's address, moved out of it (and so out of the
 * history and any copied link) into this tab's session storage, where a reload finds it again.
 */
function takeIdentity(): string | null {
  const KEY = 'wr_identity';
  const fromUrl = readIdentity(window.location.search);
  try {
    if (fromUrl !== null) {
      window.sessionStorage.setItem(KEY, fromUrl);
      window.history.replaceState(window.history.state, '', withoutIdentity(window.location));
      return fromUrl;
    }
    return window.sessionStorage.getItem(KEY);
  } catch {
    return fromUrl;
  }
}

async function start(target: HTMLElement): Promise<void> {
  const texts = pageTexts(browserLanguages(navigator));
  document.documentElement.lang = texts.language;
  const config = await loadConfig(
    (url, init) => fetch(url, init),
    `${import.meta.env.BASE_URL}config.json`,
  );
  const room = new WaitingRoom({
    url: resolveSocketUrl(config, window.location),
    returnPath: readReturnPath(window.location.search),
    identity: takeIdentity(),
    createSocket: (url) => new WebSocket(url),
    storage: browserStorage(),
    // `replace`: Back from the main site must not land here and take a new place.
    navigate: (url) => window.location.replace(url),
    isOnline: () => navigator.onLine,
  });
  // Through the CSSOM, which the page's CSP (`style-src 'self'`) allows, unlike a style attribute.
  if (config.brandColor !== '') {
    for (const [name, value] of brandProperties(config.brandColor)) {
      document.documentElement.style.setProperty(name, value);
    }
  }
  mount(App, {
    target,
    props: {
      room,
      texts,
      roomName: config.roomName,
      eventText: config.eventText,
      eventLogo: config.eventLogo,
      mainHost: displayHost(config.mainOrigin),
    },
  });
  room.start();
}

const target = document.getElementById('app');
if (target !== null) void start(target);
