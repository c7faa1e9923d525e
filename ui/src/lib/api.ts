// The one module that talks to the device core. Every screen calls the typed functions
// of `api` and nothing else. They are generated from the core's one list of commands
// (crates/field-app/src/commands.rs → ./api/gen/commands.ts), as are the events: a new
// command needs no line here.
//
// Transport: inside the Tauri shell, `invoke(command, { args })`; in a plain browser the
// bridge on localhost, `POST /api/<command>` with the args as the JSON body, answering
// 200 with the result or 4xx/5xx with a UserError. Events (app_state, sync_state,
// sync_progress) come from Tauri's `listen` or from the bridge's EventSource.

import { EVENTS, deviceApi } from './api/gen/index';
import type { CommandName, Commands, EventName, Events, UserError } from './api/gen/index';

/** A failure from the core, carrying its UserError (code, Chinese and English). */
export class ApiError extends Error {
  readonly user: UserError;
  readonly status: number;
  constructor(user: UserError, status = 0) {
    super(`${user.code}: ${user.en}`);
    this.user = user;
    this.status = status;
  }
}

/** A UserError for a failure that never reached the core (the bridge is down, …). */
function transportError(detail: string): ApiError {
  return new ApiError({
    code: 'core_unreachable',
    zh: '无法连接本机数据服务，请重新打开应用',
    en: `Cannot reach the app's data service; reopen the app (${detail})`,
  });
}

/** Whether a thrown value is a UserError answer; non-API errors become one. */
export function asUserError(e: unknown): UserError {
  if (e instanceof ApiError) return e.user;
  const msg = e instanceof Error ? e.message : String(e);
  return { code: 'ui_error', zh: `出现意外错误：${msg}`, en: `Unexpected error: ${msg}` };
}

type Tauri = { invoke: (cmd: string, args: Record<string, unknown>) => Promise<unknown> };
let tauri: Promise<Tauri> | null = null;

export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

function isUserError(v: unknown): v is UserError {
  return !!v && typeof v === 'object' && 'code' in v && 'zh' in v && 'en' in v;
}

/** Where the bridge is: same origin (the bridge serves the UI, or Vite proxies /api). */
const base = '';

/** Sends one command to the core and returns its answer, or throws ApiError. */
export async function call<T>(command: string, args: object = {}): Promise<T> {
  if (inTauri()) {
    tauri ??= import('@tauri-apps/api/core').then((m) => ({ invoke: m.invoke }));
    try {
      return (await (await tauri).invoke(command, { args })) as T;
    } catch (e) {
      if (isUserError(e)) throw new ApiError(e);
      throw transportError(String(e));
    }
  }
  let res: Response;
  try {
    res = await fetch(`${base}/api/${command}`, {
      method: 'POST',
      // The bridge answers only requests that carry this header (a page of another
      // site cannot send it without a CORS preflight, which the bridge never grants).
      headers: { 'content-type': 'application/json', 'x-tonghu': '1' },
      body: JSON.stringify(args),
    });
  } catch (e) {
    throw transportError(String(e));
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    if (isUserError(body)) throw new ApiError(body, res.status);
    throw transportError(`HTTP ${res.status}`);
  }
  return body as T;
}

// ---- events -------------------------------------------------------------------------

/** Every event the core pushes and its data (generated from the core's list). */
export type EventMap = Events;
type Handler<K extends EventName> = (data: Events[K]) => void;
const handlers = Object.fromEntries(EVENTS.map((n) => [n, new Set()])) as unknown as {
  [K in EventName]: Set<Handler<K>>;
};
let eventsStarted = false;
let source: EventSource | null = null;

function dispatch<K extends EventName>(name: K, data: Events[K]) {
  for (const h of handlers[name]) h(data);
}

function startEvents() {
  if (eventsStarted) return;
  eventsStarted = true;
  const names = EVENTS;
  if (inTauri()) {
    void import('@tauri-apps/api/event').then((m) => {
      for (const n of names) void m.listen(n, (ev) => dispatch(n, ev.payload as never));
    });
    return;
  }
  const open = () => {
    source = new EventSource(`${base}/api/events`);
    for (const n of names) {
      source.addEventListener(n, (ev) => {
        try {
          dispatch(n, JSON.parse((ev as MessageEvent).data));
        } catch {
          /* a malformed event is dropped; the next poll corrects the screen */
        }
      });
    }
    // EventSource reconnects by itself after an error; a closed one is reopened.
    source.onerror = () => {
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(open, 2000);
      }
    };
  };
  open();
}

/** Calls `handler` for every event `name` until the returned function is called. */
export function on<K extends EventName>(name: K, handler: Handler<K>): () => void {
  startEvents();
  handlers[name].add(handler);
  return () => handlers[name].delete(handler);
}

// ---- commands -----------------------------------------------------------------------

/** One typed command: arguments and answer as crates/field-app declares them. */
function cmd<K extends CommandName>(name: K, args: Commands[K]['args']): Promise<Commands[K]['result']> {
  return call<Commands[K]['result']>(name, args as object);
}

const generated = deviceApi(cmd);

/** Where an image the phone holds can be shown from, for an `<img src>`: the bridge
 *  serves it by hash; inside Tauri it is read through the `photo` command. */
export async function imageSrc(sha256: string): Promise<string> {
  if (!inTauri()) return `/api/image/${encodeURIComponent(sha256)}`;
  const r = await generated.photo({ sha256 });
  return `data:${r.mime};base64,${r.base64}`;
}

/** Every command as a typed function (`api.childFile({ child_id })`). */
export const api = {
  ...generated,
  /** The family's PDF. Inside Tauri the shell also saves it as a file and opens it
   *  for printing (`save_agreement_pdf`): a webview cannot download a blob. */
  agreementPdf: (args: Commands['agreement_pdf']['args']) =>
    inTauri() ? generated.saveAgreementPdf(args) : generated.agreementPdf(args),
};
