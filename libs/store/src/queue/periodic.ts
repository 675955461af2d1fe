/**
 * Runs `job` every `everyMs` in the background, never two at once, with a timer that does not keep the
 * process alive. `stop` clears the timer and waits for a run in progress. For retention.
 */
export class Periodic {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly everyMs: number,
    private readonly job: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.job()
        .then(() => undefined, this.onError)
        .finally(() => (this.running = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
