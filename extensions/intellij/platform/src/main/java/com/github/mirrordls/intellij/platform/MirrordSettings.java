package com.github.mirrordls.intellij.platform;

import com.intellij.openapi.application.ApplicationManager;
import com.intellij.openapi.components.PersistentStateComponent;
import com.intellij.openapi.components.State;
import com.intellij.openapi.components.Storage;

/** Application settings (Settings → Tools → mirrord), stored in mirrord-ls.xml. */
@State(name = "MirrordLsSettings", storages = @Storage("mirrord-ls.xml"))
public final class MirrordSettings implements PersistentStateComponent<MirrordSettings.State> {
  /** The stored fields. */
  public static final class State {
    /** mirrord-ls executable; empty: {@code mirrord-ls} on PATH. */
    public String binaryPath = "";

    /** The toggle's state when a project opens (the toggle itself is not persisted). */
    public boolean enabledByDefault = false;

    /** Extra mirrord-ls arguments, e.g. {@code --mirrord /path/to/mirrord}. */
    public String extraArgs = "";

    /** The target chosen last time: first in the picker. */
    public String lastChosenTarget = "";
  }

  private State state = new State();

  public static MirrordSettings getInstance() {
    return ApplicationManager.getApplication().getService(MirrordSettings.class);
  }

  @Override
  public State getState() {
    return state;
  }

  @Override
  public void loadState(State loaded) {
    state = loaded;
  }
}
