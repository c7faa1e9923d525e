// Pure route parsing (tested in node); router.svelte.ts keeps the current route.

export interface Route {
  name: string;
  params: Record<string, string>;
  query: URLSearchParams;
}

const patterns: [string, RegExp, string[]][] = [
  ['home', /^\/?$/, []],
  ['home', /^\/home$/, []],
  ['roster', /^\/roster$/, []],
  ['register', /^\/child\/new$/, []],
  ['child', /^\/child\/([^/]+)$/, ['id']],
  ['edit_child', /^\/child\/([^/]+)\/edit$/, ['id']],
  ['guardian', /^\/child\/([^/]+)\/guardian(?:\/([^/]+))?$/, ['id', 'guardian']],
  ['visit', /^\/child\/([^/]+)\/visit$/, ['id']],
  ['consent', /^\/child\/([^/]+)\/consent$/, ['id']],
  ['agreement', /^\/child\/([^/]+)\/agreement(?:\/([^/]+))?$/, ['id', 'draft']],
  ['agreement_version', /^\/child\/([^/]+)\/signed\/([^/]+)$/, ['id', 'version']],
  ['task_register', /^\/task\/([^/]+)\/register$/, ['task']],
  ['task', /^\/task\/([^/]+)$/, ['id']],
  ['sync', /^\/sync$/, []],
  ['settings', /^\/settings$/, []],
];

export function parse(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [path, qs = ''] = raw.split('?');
  for (const [name, re, keys] of patterns) {
    const m = re.exec(path);
    if (m) {
      const params: Record<string, string> = {};
      keys.forEach((k, i) => {
        if (m[i + 1] !== undefined) params[k] = decodeURIComponent(m[i + 1]);
      });
      return { name, params, query: new URLSearchParams(qs) };
    }
  }
  return { name: 'home', params: {}, query: new URLSearchParams() };
}
