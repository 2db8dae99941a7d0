// A minimal `vscode` module for unit tests: importing this file first makes
// `require("vscode")` return the mock. It covers what statusBar.ts uses.

import Module from "node:module";

type Listener<T> = (e: T) => unknown;

export class MockStatusBarItem {
  text = "";
  tooltip: unknown;
  name: string | undefined;
  command: string | undefined;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string,
    readonly alignment: number,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
    this.visible = false;
  }
}

class MarkdownString {
  value: string;
  isTrusted: unknown;
  constructor(
    value = "",
    readonly supportThemeIcons = false,
  ) {
    this.value = value;
  }
  appendMarkdown(s: string): this {
    this.value += s;
    return this;
  }
}

export const mock = {
  settings: new Map<string, unknown>(),
  statusItems: [] as MockStatusBarItem[],
  configListeners: new Set<Listener<{ affectsConfiguration(section: string): boolean }>>(),
  /** Changes a setting ("mirrord.showStatusBarButton") and fires onDidChangeConfiguration. */
  setSetting(key: string, value: unknown): void {
    if (value === undefined) this.settings.delete(key);
    else this.settings.set(key, value);
    const event = { affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`) };
    for (const l of this.configListeners) l(event);
  },
  reset(): void {
    this.settings.clear();
    this.statusItems.length = 0;
    this.configListeners.clear();
  },
};

const vscode = {
  StatusBarAlignment: { Left: 1, Right: 2 },
  MarkdownString,
  window: {
    createStatusBarItem(id: string, alignment: number, priority: number): MockStatusBarItem {
      const item = new MockStatusBarItem(id, alignment, priority);
      mock.statusItems.push(item);
      return item;
    },
  },
  workspace: {
    getConfiguration(section: string) {
      return {
        get<T>(key: string, def?: T): T | undefined {
          const v = mock.settings.get(`${section}.${key}`) as T | undefined;
          return v === undefined ? def : v;
        },
      };
    },
    onDidChangeConfiguration(listener: Listener<{ affectsConfiguration(section: string): boolean }>) {
      mock.configListeners.add(listener);
      return { dispose: () => mock.configListeners.delete(listener) };
    },
    asRelativePath(p: string): string {
      return p.replace(/^\/work\/space\//, "");
    },
  },
};

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const mod = Module as unknown as { _load: Loader };
const load = mod._load;
mod._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  if (request === "vscode") return vscode;
  return load.call(this, request, parent, isMain);
};
