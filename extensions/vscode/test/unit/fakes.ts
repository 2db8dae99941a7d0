// Scripted stand-ins for the Ui and the server in flow tests.

import { type Cancel, CancelSource } from "../../src/cancel";
import type { Range } from "../../src/protocol";
import type { ServerApi } from "../../src/serverApi";
import type { Log, PickItem, Store, Ui } from "../../src/ui";

export class MemoryStore implements Store {
  readonly data = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }
  update(key: string, value: unknown): Thenable<void> {
    if (value === undefined) this.data.delete(key);
    else this.data.set(key, value);
    return Promise.resolve();
  }
}

export interface ShownPick {
  title: string;
  placeholder: string | undefined;
  items: PickItem<unknown>[];
}

/**
 * A Ui whose quick picks are answered by `answers`, one per pick, each a
 * function choosing from the items shown (undefined = Esc). Messages are
 * recorded; a message is answered with `messageAnswer`.
 */
export class ScriptedUi implements Ui {
  readonly picks: ShownPick[] = [];
  readonly messages: { level: "info" | "warn" | "error"; text: string; actions: string[] }[] = [];
  readonly opened: { path: string; range: Range | undefined }[] = [];
  readonly progress: string[] = [];
  messageAnswer: string | undefined;
  /** Cancels the progress token as soon as the task starts. */
  cancelProgress = false;

  constructor(private readonly answers: ((items: PickItem<unknown>[]) => PickItem<unknown> | undefined)[] = []) {}

  pick<T>(items: readonly PickItem<T>[], options: { title: string; placeholder?: string }): Promise<T | undefined> {
    const shown = [...items] as PickItem<unknown>[];
    this.picks.push({ title: options.title, placeholder: options.placeholder, items: shown });
    const answer = this.answers.shift();
    if (!answer) throw new Error(`unexpected pick: ${options.title}`);
    const chosen = answer(shown);
    if (chosen && chosen.kind !== "item") throw new Error("a separator was chosen");
    return Promise.resolve(chosen?.value as T | undefined);
  }
  info(text: string, ...actions: string[]): Promise<string | undefined> {
    return this.message("info", text, actions);
  }
  warn(text: string, ...actions: string[]): Promise<string | undefined> {
    return this.message("warn", text, actions);
  }
  error(text: string, ...actions: string[]): Promise<string | undefined> {
    return this.message("error", text, actions);
  }
  private message(level: "info" | "warn" | "error", text: string, actions: string[]): Promise<string | undefined> {
    this.messages.push({ level, text, actions });
    return Promise.resolve(this.messageAnswer);
  }
  withProgress<R>(title: string, task: (report: (m: string) => void, token: Cancel) => Promise<R>): Promise<R> {
    this.progress.push(title);
    const source = new CancelSource();
    if (this.cancelProgress) setImmediate(() => source.cancel());
    return task((m) => this.progress.push(m), source.token);
  }
  openFile(path: string, range?: Range): Promise<void> {
    this.opened.push({ path, range });
    return Promise.resolve();
  }
}

/** Chooses the first item whose label contains text. */
export function labelled(text: string): (items: PickItem<unknown>[]) => PickItem<unknown> | undefined {
  return (items) => {
    const found = items.find((i) => i.kind === "item" && i.label.includes(text));
    if (!found) throw new Error(`no item labelled ${JSON.stringify(text)} in ${items.map((i) => i.label).join(" | ")}`);
    return found;
  };
}

export const esc = (): undefined => undefined;

export function itemLabels(items: PickItem<unknown>[]): string[] {
  return items.filter((i) => i.kind === "item").map((i) => i.label);
}

export class NullLog implements Log {
  readonly lines: string[] = [];
  info(m: string): void {
    this.lines.push(`info: ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn: ${m}`);
  }
  error(m: string): void {
    this.lines.push(`error: ${m}`);
  }
}

type Calls = { method: string; params: unknown }[];

/** A ServerApi answering from handlers; every call is recorded. */
export function fakeApi(handlers: Partial<ServerApi>): ServerApi & { calls: Calls } {
  const calls: Calls = [];
  const missing = (method: string) => (): Promise<never> => Promise.reject(new Error(`unexpected call ${method}`));
  const rec =
    <A extends unknown[], R>(method: string, f: ((...a: A) => Promise<R>) | undefined) =>
    (...a: A): Promise<R> => {
      calls.push({ method, params: a[0] });
      return f ? f(...a) : missing(method)();
    };
  return {
    calls,
    discoverConfig: rec("discoverConfig", handlers.discoverConfig),
    verifyConfig: rec("verifyConfig", handlers.verifyConfig),
    listTargets: rec("listTargets", handlers.listTargets),
    startSession: rec("startSession", handlers.startSession),
    listSessions: rec("listSessions", handlers.listSessions),
    stopSession: rec("stopSession", handlers.stopSession),
  };
}
