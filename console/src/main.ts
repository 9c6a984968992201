import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { ConsoleState } from './lib/console-state.svelte.ts';
import { takeToken } from './lib/token.ts';

const target = document.getElementById('app');
if (target !== null) {
  const view = new ConsoleState({
    fetch: (url, init) => fetch(url, init),
    token: takeToken({ location, history, storage: sessionStorage }),
  });
  mount(App, { target, props: { console: view } });
  view.start();
}
