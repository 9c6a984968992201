import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { ConsoleState } from './lib/console-state.svelte.ts';

const target = document.getElementById('app');
if (target !== null) {
  const view = new ConsoleState({
    openStream: (url) => new EventSource(url),
    fetch: (url, init) => fetch(url, init),
  });
  mount(App, { target, props: { console: view } });
  view.start();
}
