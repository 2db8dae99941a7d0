// Ui: the few editor interactions the flows need. extension.ts implements it
// with vscode.window; the unit tests script it.

import type { Cancel } from "./cancel";
import type { Range } from "./protocol";

export type PickItem<T> =
  | { kind: "item"; label: string; description?: string; detail?: string; value: T }
  | { kind: "separator"; label: string };

export interface PickOptions {
  title: string;
  placeholder?: string;
}

export interface Ui {
  /** A quick pick with type-to-filter; undefined when the user presses Esc. */
  pick<T>(items: readonly PickItem<T>[], options: PickOptions): Promise<T | undefined>;
  info(message: string, ...actions: string[]): Promise<string | undefined>;
  warn(message: string, ...actions: string[]): Promise<string | undefined>;
  error(message: string, ...actions: string[]): Promise<string | undefined>;
  /** Runs task under a cancellable progress notification. */
  withProgress<R>(title: string, task: (report: (message: string) => void, token: Cancel) => Promise<R>): Promise<R>;
  /** Opens a file, selecting range when given. */
  openFile(path: string, range?: Range): Promise<void>;
}

/** Key/value storage (vscode.Memento). */
export interface Store {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function item<T>(label: string, value: T, extra: { description?: string; detail?: string } = {}): PickItem<T> {
  return { kind: "item", label, value, ...extra };
}

export function separator<T>(label: string): PickItem<T> {
  return { kind: "separator", label };
}
