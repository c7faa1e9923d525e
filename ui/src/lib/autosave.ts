// Saves a form to the core's draft store on every change: at most one save in flight,
// and the latest state always saved after it (never an older one last). A form killed
// between two keystrokes keeps everything up to the last completed save, which is at
// most one change behind.

export type SaveStatus = 'idle' | 'saving' | 'saved' | 'failed';

export class AutoSaver<T> {
  private pending: { data: T } | null = null;
  private running: Promise<void> | null = null;
  status: SaveStatus = 'idle';
  error: unknown = null;
  /** How many saves completed (for tests and the "saved" indicator). */
  saves = 0;

  constructor(
    private readonly save: (data: T) => Promise<unknown>,
    private readonly onStatus: (s: SaveStatus, error: unknown) => void = () => {},
  ) {}

  /** Queues `data` to be saved; returns when it (or a newer state) is saved. */
  push(data: T): Promise<void> {
    this.pending = { data };
    if (!this.running) this.running = this.drain();
    return this.running;
  }

  /** Resolves when nothing is queued or in flight. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private set(s: SaveStatus, e: unknown = null) {
    this.status = s;
    this.error = e;
    this.onStatus(s, e);
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const { data } = this.pending;
        this.pending = null;
        this.set('saving');
        try {
          await this.save(data);
          this.saves++;
          if (!this.pending) this.set('saved');
        } catch (e) {
          this.set('failed', e);
        }
      }
    } finally {
      this.running = null;
    }
  }
}
