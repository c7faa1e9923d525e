// Hash routes (#/roster, #/child/<id>, …): they work from the bridge, from Tauri's
// asset protocol and from a file, and the back button of Android goes back.

import { parse, type Route } from './router-parse';

export { parse, type Route };

let current = $state<Route>(parse(typeof location !== 'undefined' ? location.hash : ''));
/** The path of the screen before this one (without its query), and of this one. */
let previousPath: string | null = null;
let currentPath = typeof location !== 'undefined' ? pathOf(location.hash) : '';

function pathOf(hash: string): string {
  return hash.replace(/^#/, '').split('?')[0];
}

function moved(hash: string) {
  previousPath = currentPath;
  currentPath = pathOf(hash);
  current = parse(hash);
}

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => {
    moved(location.hash);
    window.scrollTo(0, 0);
  });
}

export const router = {
  get route(): Route {
    return current;
  },
  /** Where the director came from (`/child/<id>`), to go back there rather than on. */
  get previous(): string | null {
    return previousPath;
  },
};

export function go(path: string, replace = false) {
  const h = '#' + path;
  if (replace) {
    history.replaceState(null, '', h);
    moved(h);
  } else location.hash = path;
}

export function back(fallback = '/home') {
  if (history.length > 1) history.back();
  else go(fallback, true);
}
