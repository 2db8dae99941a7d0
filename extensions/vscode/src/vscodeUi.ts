// The Ui of the flows, on vscode.window.

import * as vscode from "vscode";
import type { Range } from "./protocol";
import type { Log, PickItem, Ui } from "./ui";

type ValueItem<T> = vscode.QuickPickItem & { value?: T };

export function createVscodeUi(): Ui {
  return {
    async pick<T>(items: readonly PickItem<T>[], options: { title: string; placeholder?: string }): Promise<T | undefined> {
      const qp: ValueItem<T>[] = items.map((i) =>
        i.kind === "separator"
          ? { label: i.label, kind: vscode.QuickPickItemKind.Separator }
          : {
              label: i.label,
              value: i.value,
              ...(i.description !== undefined ? { description: i.description } : {}),
              ...(i.detail !== undefined ? { detail: i.detail } : {}),
            },
      );
      const picked = await vscode.window.showQuickPick(qp, {
        title: options.title,
        ...(options.placeholder !== undefined ? { placeHolder: options.placeholder } : {}),
        matchOnDescription: true,
        matchOnDetail: true,
        ignoreFocusOut: true,
      });
      return picked?.value;
    },
    info: (message, ...actions) => Promise.resolve(vscode.window.showInformationMessage(message, ...actions)),
    warn: (message, ...actions) => Promise.resolve(vscode.window.showWarningMessage(message, ...actions)),
    error: (message, ...actions) => Promise.resolve(vscode.window.showErrorMessage(message, ...actions)),
    withProgress<R>(title: string, task: (report: (message: string) => void, token: vscode.CancellationToken) => Promise<R>): Promise<R> {
      return Promise.resolve(
        vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
          task((message) => progress.report({ message }), token),
        ),
      );
    },
    async openFile(path: string, range?: Range): Promise<void> {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path));
      const selection = range
        ? new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character)
        : undefined;
      await vscode.window.showTextDocument(doc, selection ? { selection } : {});
    },
  };
}

export function channelLog(channel: vscode.LogOutputChannel): Log {
  return {
    info: (m) => channel.info(m),
    warn: (m) => channel.warn(m),
    error: (m) => channel.error(m),
  };
}
