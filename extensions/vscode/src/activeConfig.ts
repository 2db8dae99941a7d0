// The active config: a file the user picked that every launch of the
// workspace uses (passed to the server as discoverConfig's explicit path).
// Persisted in workspaceState so it survives reloads.

import type { Store } from "./ui";

export const ACTIVE_CONFIG_KEY = "mirrord.activeConfig";

export class ActiveConfig {
  private readonly listeners = new Set<(path: string | undefined) => void>();

  constructor(private readonly store: Store) {}

  get path(): string | undefined {
    const p = this.store.get<string>(ACTIVE_CONFIG_KEY);
    return p ? p : undefined;
  }

  async set(path: string | undefined): Promise<void> {
    await this.store.update(ACTIVE_CONFIG_KEY, path);
    for (const l of this.listeners) l(path);
  }

  onDidChange(listener: (path: string | undefined) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}
