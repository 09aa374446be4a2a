/**
 * One refresh at a time, shared by every call that needs it. A call remembers the
 * generation it was sent under: when its 401 comes back after a refresh already finished,
 * it retries with the new session instead of refreshing again (a second refresh would
 * present a rotated token, which byok answers as reuse).
 */
export class SessionRefresher {
  #generation = 0;
  #inflight: Promise<void> | null = null;
  readonly #run: () => Promise<void>;

  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  /** Bumped by every refresh that succeeded. */
  get generation(): number {
    return this.#generation;
  }

  /** Refreshes unless a refresh finished since `seen`; joins the one under way. */
  refresh(seen: number): Promise<void> {
    if (this.#generation !== seen) return Promise.resolve();
    if (!this.#inflight) {
      this.#inflight = this.#run()
        .then(() => {
          this.#generation += 1;
        })
        .finally(() => {
          this.#inflight = null;
        });
    }
    return this.#inflight;
  }
}
