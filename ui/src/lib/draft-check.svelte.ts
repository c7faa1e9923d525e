// Asks the device what is wrong with a form as it is typed (`check_draft`): every
// problem at once, blocking or a warning, and what the device fills in. The latest
// answer wins (an older one arriving late is dropped); typing waits for a short pause.

import { api } from './api';
import type { DraftCheck, DraftKind } from './types';
import type { JsonValue } from './api/gen/serde_json/JsonValue';

export class DraftChecker {
  /** The device's latest answer (null until the first). */
  result = $state<DraftCheck | null>(null);
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The draft the latest answer is about (JSON), while no newer one is asked. */
  private answered: string | null = null;

  constructor(
    private readonly kind: DraftKind,
    private readonly pause = 150,
  ) {}

  /** Asks again after a short pause (the form changed). */
  request(draft: unknown): void {
    clearTimeout(this.timer);
    this.answered = null;
    this.timer = setTimeout(() => void this.now(draft).catch(() => {}), this.pause);
  }

  /** Asks now and waits for the answer (before a save or the signing step). */
  async now(draft: unknown): Promise<DraftCheck> {
    clearTimeout(this.timer);
    const my = ++this.seq;
    const json = JSON.stringify(draft);
    const r = await api.checkDraft({ kind: this.kind, draft: draft as JsonValue });
    if (my === this.seq) {
      this.result = r;
      this.answered = json;
    }
    return r;
  }

  /** The answer for exactly this draft when the device gave it already (no round
   *  trip before a save the form has just been checked for), else a new one. */
  async current(draft: unknown): Promise<DraftCheck> {
    if (this.result && this.answered !== null && this.answered === JSON.stringify(draft)) return this.result;
    return this.now(draft);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.answered = null;
    this.seq++;
  }
}
