// Waiting on a condition with a deadline: the real-editor suite never sleeps
// and hopes; a condition that does not hold in time fails with what was
// awaited.

import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls check until it returns something other than undefined (or throws),
 * and fails after timeoutMs with the last error seen.
 */
export async function until<T>(what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("code-server exited")) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await delay(everyMs);
  }
}
