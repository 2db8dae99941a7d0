// Driving the VS Code workbench (Code 1.100 in code-server) as a user does:
// keyboard, the command palette, quick picks, notifications, Problems and
// the status bar. Every wait has a deadline; assertions read the DOM.

import { mkdirSync } from "node:fs";
import * as path from "node:path";
import type { Locator, Page } from "playwright-core";
import { until } from "./wait";

export const STATUS_ITEM = '[id="mirrord-ls.mirrord-ls-vscode.mirrord.status"]';
const QUICK_INPUT = ".quick-input-widget";
const QUICK_ROWS = ".quick-input-widget .quick-input-list .monaco-list-row";

// The functions run in the page; the project compiles without the DOM
// library, so they declare the little of it they use.
interface DomElement {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
  readonly style: { top: string };
}

function ariaLabelsOf(els: unknown[]): string[] {
  return (els as DomElement[]).map((e) => e.getAttribute("aria-label") ?? "");
}

function textsOf(els: unknown[]): string[] {
  return (els as DomElement[]).map((e) => e.textContent ?? "");
}

/** The text of editor lines in their visual order. */
function linesOf(els: unknown[]): string[] {
  return (els as DomElement[])
    .map((e) => ({ top: parseFloat(e.style.top || "0"), text: e.textContent ?? "" }))
    .sort((a, b) => a.top - b.top)
    .map((l) => l.text);
}

function selectedOptionOf(el: unknown): string {
  const s = el as { selectedIndex: number; options: { text: string }[] };
  return s.options[s.selectedIndex]?.text ?? "";
}

/** Editor text uses U+00A0 for spaces. */
export function plain(s: string): string {
  return s.replace(/\u00a0/g, " ");
}

export class Workbench {
  private shots = 0;

  constructor(
    readonly page: Page,
    private readonly artifacts: string,
  ) {
    mkdirSync(artifacts, { recursive: true });
  }

  /** Saves a screenshot as a test artifact; returns its path. */
  async screenshot(name: string): Promise<string> {
    this.shots += 1;
    const file = path.join(this.artifacts, `${String(this.shots).padStart(2, "0")}-${name.replace(/[^\w.-]+/g, "_")}.png`);
    await this.page.screenshot({ path: file }).catch(() => undefined);
    return file;
  }

  async waitReady(timeoutMs = 120_000): Promise<void> {
    await this.page.waitForSelector(".monaco-workbench .part.statusbar", { timeout: timeoutMs });
  }

  /**
   * Reloads the window as "Developer: Reload Window" does: the workbench
   * shuts down (flushing its storage) and loads again. A plain page reload
   * can lose state written just before it.
   */
  async reloadWindow(timeoutMs = 120_000): Promise<void> {
    const navigated = this.page.waitForEvent("framenavigated", { timeout: timeoutMs });
    await this.runCommand("Developer: Reload Window");
    await navigated;
    await this.page.waitForLoadState("load", { timeout: timeoutMs });
    await this.waitReady(timeoutMs);
  }

  /** Moves the mouse away and closes a hover. */
  async dismissHover(): Promise<void> {
    await this.page.mouse.move(700, 300);
    await this.page.keyboard.press("Escape");
    await this.page.locator(".monaco-hover").first().waitFor({ state: "hidden", timeout: 10_000 }).catch(() => undefined);
  }

  statusItem(): Locator {
    return this.page.locator(STATUS_ITEM);
  }

  /** The toggle's state from its icon: true = filled circle. */
  async mirrordEnabled(timeoutMs = 120_000): Promise<boolean> {
    const item = this.statusItem();
    await item.waitFor({ state: "visible", timeout: timeoutMs });
    const html = await item.innerHTML();
    if (html.includes("codicon-circle-large-filled")) return true;
    if (html.includes("codicon-circle-large-outline")) return false;
    throw new Error(`status item shows neither state: ${html}`);
  }

  async waitMirrord(enabled: boolean, timeoutMs = 30_000): Promise<void> {
    await until(`mirrord ${enabled ? "enabled" : "disabled"} in the status bar`, timeoutMs, async () =>
      (await this.mirrordEnabled(timeoutMs)) === enabled ? true : undefined,
    );
  }

  /** Runs a command from the palette by its full title ("mirrord: Show sessions"). */
  async runCommand(title: string): Promise<void> {
    await this.closeQuickInput();
    await this.page.keyboard.press("F1");
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: "visible", timeout: 30_000 });
    await input.fill(`>${title}`);
    const row = this.page.locator(QUICK_ROWS).filter({ hasText: title }).first();
    await row.waitFor({ state: "visible", timeout: 30_000 });
    await until(`"${title}" to be the first palette entry`, 30_000, async () => {
      const first = await this.page.locator(QUICK_ROWS).first().getAttribute("aria-label");
      return first?.startsWith(title) ? true : undefined;
    });
    await this.page.keyboard.press("Enter");
  }

  async closeQuickInput(): Promise<void> {
    if (await this.page.locator(QUICK_INPUT).isVisible()) {
      await this.page.keyboard.press("Escape");
      await this.page.locator(QUICK_INPUT).waitFor({ state: "hidden", timeout: 10_000 });
    }
  }

  /** Waits for a quick pick whose title contains title; returns its rows' labels. */
  async quickPick(title: string | RegExp, timeoutMs = 60_000): Promise<string[]> {
    return until(`a quick pick titled ${String(title)}`, timeoutMs, async () => {
      const widget = this.page.locator(QUICK_INPUT);
      if (!(await widget.isVisible())) return undefined;
      const t = (await this.page.locator(`${QUICK_INPUT} .quick-input-title`).textContent()) ?? "";
      if (typeof title === "string" ? !t.includes(title) : !title.test(t)) return undefined;
      const rows = await this.page.locator(QUICK_ROWS).evaluateAll(ariaLabelsOf);
      return rows.length > 0 ? rows.map(plain) : undefined;
    });
  }

  async quickPickTitle(): Promise<string> {
    return (await this.page.locator(`${QUICK_INPUT} .quick-input-title`).textContent()) ?? "";
  }

  /** Types filter into the open quick pick and accepts the row whose label starts with label. */
  async pick(label: string, filter = label): Promise<void> {
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.fill(filter);
    await until(`quick pick row "${label}"`, 30_000, async () => {
      const labels = await this.page.locator(QUICK_ROWS).evaluateAll(ariaLabelsOf);
      const i = labels.map(plain).findIndex((l) => l.startsWith(label) || l.includes(label));
      if (i < 0) return undefined;
      await this.page.locator(QUICK_ROWS).nth(i).click();
      return true;
    });
  }

  /** Waits for a notification toast containing text; returns its text. */
  async notification(text: string | RegExp, timeoutMs = 60_000): Promise<Locator> {
    const toast = this.page.locator(".notifications-toasts .notification-list-item").filter({ hasText: text }).first();
    await toast.waitFor({ state: "visible", timeout: timeoutMs });
    return toast;
  }

  /** Every visible notification's text. */
  async notificationTexts(): Promise<string[]> {
    return this.page.locator(".notifications-toasts .notification-list-item").evaluateAll(textsOf);
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand("Notifications: Clear All Notifications");
  }

  /** Rows of the Problems view (their aria-labels), after focusing it. */
  async problems(): Promise<string[]> {
    await this.runCommand("Problems: Focus on Problems View");
    await this.page.locator(".markers-panel").waitFor({ state: "visible", timeout: 30_000 });
    return this.page.locator(".markers-panel .monaco-list-row").evaluateAll(ariaLabelsOf);
  }

  /** Waits until the Problems view satisfies ok; returns its rows. */
  async waitProblems(what: string, ok: (rows: string[]) => boolean, timeoutMs = 60_000): Promise<string[]> {
    let rows: string[] = [];
    try {
      return await until(what, timeoutMs, async () => {
        rows = await this.problems();
        return ok(rows) ? rows : undefined;
      }, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nProblems:\n${rows.join("\n")}`, { cause: err });
    }
  }

  /** Opens a workspace file with Quick Open. */
  async openFile(relative: string): Promise<void> {
    await this.closeQuickInput();
    await this.page.keyboard.press("Control+P");
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: "visible", timeout: 30_000 });
    await input.fill(relative);
    const base = path.basename(relative);
    const dir = path.dirname(relative);
    await until(`Quick Open to list ${relative}`, 30_000, async () => {
      const labels = await this.page.locator(QUICK_ROWS).evaluateAll(ariaLabelsOf);
      const i = labels.findIndex((l) => l.includes(base) && (dir === "." || l.includes(dir)));
      return i === 0 ? true : undefined;
    });
    await this.page.keyboard.press("Enter");
    await this.waitActiveEditor(relative);
  }

  /** The breadcrumbs of the active editor, as "a › b › c". */
  async breadcrumbs(): Promise<string> {
    const items = await this.page
      .locator(".editor-group-container.active .breadcrumbs-control .monaco-breadcrumb-item")
      .evaluateAll(textsOf);
    return items.map((i) => i.trim()).join(" › ");
  }

  /** Waits until the active editor shows relative (its breadcrumbs end with its path). */
  async waitActiveEditor(relative: string, timeoutMs = 30_000): Promise<void> {
    const want = relative.split("/").join(" › ");
    await until(`the active editor to be ${relative}`, timeoutMs, async () => ((await this.breadcrumbs()).startsWith(want) ? true : undefined));
  }

  /** The cursor/selection status ("Ln 3, Col 30 (6 selected)"). */
  async selectionStatus(): Promise<string> {
    return plain((await this.page.locator('[id="status.editor.selection"]').textContent()) ?? "");
  }

  /** Moves the cursor with Go to Line ("3:30"). */
  async goTo(lineCol: string): Promise<void> {
    await this.closeQuickInput();
    await this.page.keyboard.press("Control+G");
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: "visible", timeout: 30_000 });
    await input.fill(`:${lineCol}`);
    const [line, col] = lineCol.split(":");
    await this.page
      .locator(QUICK_ROWS)
      .filter({ hasText: col ? `Go to line ${line} and character ${col}` : `Go to line ${line}` })
      .first()
      .waitFor({ state: "visible", timeout: 10_000 });
    await this.page.keyboard.press("Enter");
    await until(`the cursor at ${lineCol}`, 10_000, async () =>
      (await this.selectionStatus()).startsWith(`Ln ${line}, Col ${col ?? 1}`) ? true : undefined,
    );
  }

  /** The text of the active editor's visible lines. */
  async editorText(): Promise<string> {
    const lines = await this.page
      .locator(".editor-group-container.active .monaco-editor .view-lines .view-line")
      .evaluateAll(linesOf);
    return plain(lines.join("\n"));
  }

  /** Labels of the open suggest widget. */
  async suggestions(timeoutMs = 30_000): Promise<string[]> {
    return until("the suggest widget", timeoutMs, async () => {
      const rows = await this.page.locator(".suggest-widget.visible .monaco-list-row").evaluateAll(ariaLabelsOf);
      return rows.length > 0 ? rows : undefined;
    });
  }

  /** Waits until the Output panel shows the mirrord channel with text in it. */
  async waitOutputChannel(name: string, text: string, timeoutMs = 30_000): Promise<void> {
    await until(`the ${name} output channel showing ${text}`, timeoutMs, async () => {
      const channel = await this.page
        .locator(".part.panel select.monaco-select-box")
        .first()
        .evaluate(selectedOptionOf)
        .catch(() => "");
      if (channel !== name) return undefined;
      const lines = plain((await this.page.locator(".part.panel .monaco-editor .view-lines").first().textContent().catch(() => "")) ?? "");
      return lines.includes(text) ? true : undefined;
    });
  }

  /** Whether a debug session runs (the debug toolbar is shown). */
  async debugging(): Promise<boolean> {
    return this.page.locator(".debug-toolbar").isVisible();
  }
}
