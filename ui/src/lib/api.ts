// The one module that talks to the device core. Every screen calls the typed functions
// below and nothing else, so a change in the core's command list is a change here.
//
// Transport: inside the Tauri shell, `invoke(command, { args })`; in a plain browser the
// bridge on localhost, `POST /api/<command>` with the args as the JSON body, answering
// 200 with the result or 4xx/5xx with a UserError. Events (app_state, sync_state,
// sync_progress) come from Tauri's `listen` or from the bridge's EventSource.

import type { Commands, CommandName } from './api/index';
import type { AppState, PdfFile, SyncProgressView, SyncState, UserError } from './types';

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

export type EventMap = {
  app_state: AppState;
  sync_state: SyncState;
  sync_progress: SyncProgressView;
};
type Handler<K extends keyof EventMap> = (data: EventMap[K]) => void;
const handlers: { [K in keyof EventMap]: Set<Handler<K>> } = {
  app_state: new Set(),
  sync_state: new Set(),
  sync_progress: new Set(),
};
let eventsStarted = false;
let source: EventSource | null = null;

function dispatch<K extends keyof EventMap>(name: K, data: EventMap[K]) {
  for (const h of handlers[name]) h(data);
}

function startEvents() {
  if (eventsStarted) return;
  eventsStarted = true;
  const names = Object.keys(handlers) as (keyof EventMap)[];
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
export function on<K extends keyof EventMap>(name: K, handler: Handler<K>): () => void {
  startEvents();
  handlers[name].add(handler);
  return () => handlers[name].delete(handler);
}

// ---- commands -----------------------------------------------------------------------

/** One typed command: arguments and answer as crates/field-app declares them. */
function cmd<K extends CommandName>(name: K, args: Commands[K]['args']): Promise<Commands[K]['result']> {
  return call<Commands[K]['result']>(name, args as object);
}
type A<K extends CommandName> = Commands[K]['args'];

/** Where an image the phone holds can be shown from, for an `<img src>`: the bridge
 *  serves it by hash; inside Tauri it is read through the `photo` command. */
export async function imageSrc(sha256: string): Promise<string> {
  if (!inTauri()) return `/api/image/${encodeURIComponent(sha256)}`;
  const r = await cmd('photo', { sha256 });
  return `data:${r.mime};base64,${r.base64}`;
}

export const api = {
  appState: () => cmd('app_state', {}),
  enroll: (a: A<'enroll'>) => cmd('enroll', a),
  setPin: (pin: string) => cmd('set_pin', { pin }),
  unlock: (pin: string) => cmd('unlock', { pin }),
  lock: () => cmd('lock', {}),
  keepAlive: () => cmd('keep_alive', {}),

  home: () => cmd('home', {}),
  roster: (f: A<'roster'>) => cmd('roster', f),
  childFile: (child_id: string) => cmd('child_file', { child_id }),
  consentNotice: () => cmd('consent_notice', {}),
  signConsent: (child_id: string, consent: A<'sign_consent'>['consent']) => cmd('sign_consent', { child_id, consent }),
  addChild: (c: A<'add_child'>) => cmd('add_child', c),
  editChild: (child_id: string, changes: A<'edit_child'>['changes']) => cmd('edit_child', { child_id, changes }),
  addGuardian: (g: A<'add_guardian'>) => cmd('add_guardian', g),
  editGuardian: (guardian_id: string, changes: A<'edit_guardian'>['changes']) => cmd('edit_guardian', { guardian_id, changes }),

  stagePhoto: (image_base64: string) => cmd('stage_photo', { image_base64 }),
  discardPhoto: (photo_id: string) => cmd('discard_photo', { photo_id }),
  recordVisit: (v: A<'record_visit'>) => cmd('record_visit', v),
  voidVisit: (visit_id: string, reason: string) => cmd('void_visit', { visit_id, reason }),

  saveDraft: (kind: string, key: string, data: A<'save_draft'>['data']) => cmd('save_draft', { kind, key, data }),
  getDraft: (kind: string, key: string) => cmd('get_draft', { kind, key }),
  discardDraft: (kind: string, key: string) => cmd('discard_draft', { kind, key }),

  saveAgreementDraft: (child_id: string, draft_id: string | undefined, terms: A<'save_agreement_draft'>['terms']) =>
    cmd('save_agreement_draft', { child_id, draft_id, terms }),
  agreementPreview: (draft_id: string) => cmd('agreement_preview', { draft_id }),
  signAgreement: (draft_id: string, sha256: string, signers: A<'sign_agreement'>['signers']) =>
    cmd('sign_agreement', { draft_id, sha256, signers }),
  agreement: (version_id: string) => cmd('agreement', { version_id }),
  /** The family's PDF. Inside Tauri the shell also saves it as a file and opens it
   *  for printing (`save_agreement_pdf`, src-tauri): a webview cannot download a blob. */
  agreementPdf: (version_id: string) =>
    call<PdfFile>(inTauri() ? 'save_agreement_pdf' : 'agreement_pdf', { version_id }),

  syncState: () => cmd('sync_state', {}),
  syncNow: () => cmd('sync_now', { wait: false, retries: 0 }),
  acknowledgeRejected: (device_seq: number) => cmd('acknowledge_rejected', { device_seq }),

  settings: () => cmd('settings', {}),
  updateSettings: (s: A<'update_settings'>) => cmd('update_settings', s),
  vocabulary: () => cmd('vocabulary', {}),
};
