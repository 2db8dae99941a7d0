// When the server dies it is restarted, unless it keeps dying: more than
// maxCrashes exits within windowMs stops the loop (the user gets a button).

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    private readonly maxCrashes = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records an exit; true when the server should be restarted. */
  shouldRestart(): boolean {
    const t = this.now();
    this.crashes = this.crashes.filter((c) => t - c < this.windowMs);
    this.crashes.push(t);
    return this.crashes.length <= this.maxCrashes;
  }

  reset(): void {
    this.crashes = [];
  }
}
