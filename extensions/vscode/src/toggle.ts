// The mirrord on/off state of a workspace: persisted in workspaceState, with
// mirrord.enabledByDefault as the value before the first toggle (the
// official extension overwrites the state from the setting at every start,
// so the toggle never survives a reload).

import type { Store } from "./ui";

export const ENABLED_KEY = "mirrord.enabled";

export class MirrordToggle {
  private readonly listeners = new Set<(enabled: boolean) => void>();

  constructor(
    private readonly store: Store,
    private readonly enabledByDefault: () => boolean,
  ) {}

  get enabled(): boolean {
    return this.store.get<boolean>(ENABLED_KEY) ?? this.enabledByDefault();
  }

  async set(enabled: boolean): Promise<void> {
    await this.store.update(ENABLED_KEY, enabled);
    for (const l of this.listeners) l(enabled);
  }

  async toggle(): Promise<boolean> {
    const next = !this.enabled;
    await this.set(next);
    return next;
  }

  onDidChange(listener: (enabled: boolean) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}
