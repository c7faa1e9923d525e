// The state every screen shares: the core's app state (phase, language), the sync
// state pushed by events, and the vocabulary. Screens read these; only the functions
// here write them.

import { api, on, asUserError } from './api';
import { setCorrectedNow } from './format';
import { i18n } from './i18n.svelte';
import type { AppState, Home, SyncProgressView, SyncState, Term, UserError, VocabList, Vocabulary } from './types';

export const app = $state<{
  state: AppState | null;
  sync: SyncState | null;
  progress: SyncProgressView | null;
  vocab: Partial<Vocabulary>;
  bootError: UserError | null;
}>({ state: null, sync: null, progress: null, vocab: {}, bootError: null });

export function setAppState(s: AppState) {
  app.state = s;
  if (s.language === 'zh' || s.language === 'en') i18n.lang = s.language;
}

let subscribed = false;

/** Loads the app state and the vocabulary and listens for the core's events. */
export async function boot() {
  if (!subscribed) {
    subscribed = true;
    on('app_state', setAppState);
    on('sync_state', (s) => {
      const finished = app.sync !== null && !!s.last_success_at && s.last_success_at !== app.sync.last_success_at;
      setSync(s);
      if (!s.in_flight) app.progress = null;
      // A round that finished may have brought the account's villages as the county
      // changed them: read the app state (villages and their names) again.
      if (finished) api.appState().then(setAppState, () => {});
    });
    on('sync_progress', (p) => (app.progress = p));
  }
  if (!earlyHome && !earlyHomeTaken && /^#?\/?(home)?$/.test(location.hash)) {
    earlyHome = { at: Date.now(), answer: api.home() };
    earlyHome.answer.catch(() => {});
  }
  try {
    setAppState(await api.appState());
    app.bootError = null;
  } catch (e) {
    app.bootError = asUserError(e);
    return;
  }
  void loadVocabulary();
}

/** Today's work asked for at boot beside `app_state` when the page opens on the home
 *  screen, so it arrives a round trip sooner (with 5,000 children `home` is the
 *  slowest thing on the first screen). Taken once, and only while fresh. */
let earlyHome: { at: number; answer: Promise<Home> } | null = null;
let earlyHomeTaken = false;
export async function homeAnswer(): Promise<Home> {
  const early = earlyHome;
  earlyHome = null;
  earlyHomeTaken = true;
  if (early && Date.now() - early.at < 10_000) {
    try {
      return await early.answer;
    } catch {
      /* asked while locked, say: ask again now */
    }
  }
  return api.home();
}

export async function loadVocabulary() {
  if (Object.keys(app.vocab).length > 0) return;
  try {
    app.vocab = await api.vocabulary();
  } catch {
    /* labels fall back to codes; the screens still work */
  }
}

/** Takes a sync state from the core: what the badge and the sync screen show, and the
 *  corrected clock every age on screen is measured against. */
export function setSync(s: SyncState) {
  setCorrectedNow(s.now);
  app.sync = s;
}

export async function refreshSync() {
  try {
    setSync(await api.syncState());
  } catch {
    /* the badge keeps its last known state */
  }
}

/** What of the sync state changes what a screen shows: a screen reloads when it
 *  changes (and no round is in flight). */
export function syncKey(s: SyncState): string {
  return `${s.in_flight}|${s.last_success_at}|${s.pending_records}|${s.pending_photos}|${s.rejected.length}`;
}

/** The entries of one code list (empty when the vocabulary has not loaded). */
export function codes(list: VocabList): Term[] {
  return app.vocab[list] ?? [];
}

/** The label of `code` in `list`, in the current language; the code itself if unknown. */
export function label(list: VocabList, code: string | null | undefined): string {
  if (!code) return '';
  const hit = app.vocab[list]?.find((c) => c.code === code);
  if (!hit) return code;
  return i18n.lang === 'zh' ? hit.zh : hit.en;
}

/** A village's name as the server's roster gives it, else its code. */
export function villageName(code: string | null | undefined): string {
  if (!code) return '';
  return app.state?.village_names?.[code] ?? code;
}
