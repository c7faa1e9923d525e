// Hash routes (#/roster, #/child/<id>, …): they work from the bridge, from Tauri's
// asset protocol and from a file, and the back button of Android goes back.

import { parse, type Route } from './router-parse';

export { parse, type Route };

let current = $state<Route>(parse(typeof location !== 'undefined' ? location.hash : ''));

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => {
    current = parse(location.hash);
    window.scrollTo(0, 0);
  });
}

export const router = {
  get route(): Route {
    return current;
  },
};

export function go(path: string, replace = false) {
  const h = '#' + path;
  if (replace) {
    history.replaceState(null, '', h);
    current = parse(h);
  } else location.hash = path;
}

export function back(fallback = '/home') {
  if (history.length > 1) history.back();
  else go(fallback, true);
}
