// A cancellation token shape shared by vscode, vscode-jsonrpc and the tests,
// so the plain modules need neither.

export interface Disposable {
  dispose(): void;
}

export interface Cancel {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: (e: unknown) => unknown): Disposable;
}

/** Raised when the user cancels an operation; never shown as an error. */
export class CancelledError extends Error {
  constructor(what = "operation") {
    super(`${what} was cancelled`);
    this.name = "CancelledError";
  }
}

export function isCancelled(err: unknown): boolean {
  return err instanceof CancelledError;
}

/** A token source: cancel() fires every listener once. */
export class CancelSource {
  private cancelled = false;
  private listeners: ((e: unknown) => unknown)[] = [];
  readonly token: Cancel;

  constructor() {
    const isCancelled = (): boolean => this.cancelled;
    const subscribe = (listener: (e: unknown) => unknown): Disposable => {
      if (this.cancelled) {
        listener(undefined);
        return { dispose: () => undefined };
      }
      this.listeners.push(listener);
      return {
        dispose: () => {
          this.listeners = this.listeners.filter((l) => l !== listener);
        },
      };
    };
    this.token = {
      get isCancellationRequested() {
        return isCancelled();
      },
      onCancellationRequested: subscribe,
    };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) l(undefined);
  }
}

/** A token cancelled as soon as any of the given tokens is. */
export function anyOf(...tokens: (Cancel | undefined)[]): CancelSource {
  const source = new CancelSource();
  for (const t of tokens) {
    if (!t) continue;
    if (t.isCancellationRequested) source.cancel();
    else t.onCancellationRequested(() => source.cancel());
  }
  return source;
}
