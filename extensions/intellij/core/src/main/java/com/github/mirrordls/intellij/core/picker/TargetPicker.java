package com.github.mirrordls.intellij.core.picker;

import com.github.mirrordls.intellij.core.ls.Model.Target;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * The target dialog's model (reference ide-contract §1.2): a namespace, the Pods / Deployments /
 * Rollouts checkboxes, a substring filter, the last chosen target first, and "No Target
 * (targetless)" last. OK without a selection means targetless; Cancel aborts the run.
 */
public final class TargetPicker {
  /** The label of the targetless entry. */
  public static final String TARGETLESS_LABEL = "No Target (\"targetless\")";

  /** The kinds the dialog has checkboxes for, in their order. */
  public static final List<String> KINDS = List.of("pod", "deployment", "rollout");

  /** One row of the list. */
  public static final class Item {
    /** The target path, or null for targetless. */
    public final String path;

    public final String label;

    Item(String path, String label) {
      this.path = path;
      this.label = label;
    }

    public boolean targetless() {
      return path == null;
    }

    @Override
    public String toString() {
      return label;
    }
  }

  /** What the dialog ended with. */
  public static final class Choice {
    /** Target path for {@code -t}, or null for targetless (sent as no target). */
    public final String target;

    /** The namespace for {@code MIRRORD_TARGET_NAMESPACE}, or null. */
    public final String namespace;

    Choice(String target, String namespace) {
      this.target = target;
      this.namespace = namespace;
    }

    public boolean targetless() {
      return target == null;
    }
  }

  private final Set<String> checkedKinds = new LinkedHashSet<>(KINDS);
  private final Set<String> compatibleKinds;
  private TargetList list = new TargetList();
  private String namespace;
  private String filter = "";
  private final String lastChosen;

  /**
   * @param lastChosen the target chosen last time (settings), or null
   * @param compatibleKinds {@code compatible_target_types} from verifyConfig, or null for any
   */
  public TargetPicker(String lastChosen, List<String> compatibleKinds) {
    this.lastChosen = lastChosen;
    this.compatibleKinds = compatibleKinds == null ? null : new LinkedHashSet<>(compatibleKinds);
    if (this.compatibleKinds != null) {
      checkedKinds.retainAll(this.compatibleKinds);
    }
  }

  /** The kinds to request with {@code mirrord/listTargets}. */
  public List<String> kindsToRequest() {
    return new ArrayList<>(checkedKinds);
  }

  /** The kinds that get a checkbox (those the config is compatible with). */
  public List<String> kindCheckboxes() {
    List<String> out = new ArrayList<>();
    for (String k : KINDS) {
      if (compatibleKinds == null || compatibleKinds.contains(k)) {
        out.add(k);
      }
    }
    return out;
  }

  public void setKindChecked(String kind, boolean checked) {
    if (checked && kindCheckboxes().contains(kind)) {
      checkedKinds.add(kind);
    } else {
      checkedKinds.remove(kind);
    }
  }

  public boolean isKindChecked(String kind) {
    return checkedKinds.contains(kind);
  }

  /** Takes a {@code mirrord/listTargets} result; the namespace becomes its current namespace. */
  public void setTargets(TargetList result) {
    list = result == null ? new TargetList() : result;
    namespace = list.currentNamespace;
  }

  /** The namespaces for the combo box; empty hides it. */
  public List<String> namespaces() {
    return list.namespaces == null ? List.of() : list.namespaces;
  }

  /** The namespace shown (the one to list again when the user picks another). */
  public String namespace() {
    return namespace;
  }

  /** The user picked a namespace: the caller lists targets for it and calls setTargets. */
  public void setNamespace(String ns) {
    namespace = ns;
  }

  public void setFilter(String text) {
    filter = text == null ? "" : text.trim();
  }

  /** The rows: last chosen first, then the server's order, then targetless. */
  public List<Item> items() {
    List<Item> out = new ArrayList<>();
    String needle = filter.toLowerCase(Locale.ROOT);
    List<Target> shown = new ArrayList<>();
    for (Target t : list.targets) {
      if (!t.available || !checkedKinds.contains(t.kind)) {
        continue;
      }
      if (!needle.isEmpty() && !t.path.toLowerCase(Locale.ROOT).contains(needle)) {
        continue;
      }
      shown.add(t);
    }
    for (Target t : shown) {
      if (Objects.equals(t.path, lastChosen)) {
        out.add(new Item(t.path, t.path));
      }
    }
    for (Target t : shown) {
      if (!Objects.equals(t.path, lastChosen)) {
        out.add(new Item(t.path, t.path));
      }
    }
    out.add(new Item(null, TARGETLESS_LABEL));
    return out;
  }

  /** The message to show instead of an empty list (before filtering), or null. */
  public String emptyMessage() {
    for (Target t : list.targets) {
      if (t.available && checkedKinds.contains(t.kind)) {
        return null;
      }
    }
    String where = namespace == null ? "the configured namespace" : "namespace \"" + namespace + "\"";
    return "No mirrord target available in " + where + ". You can run targetless, pick another"
        + " namespace, or set a target in the mirrord config.";
  }

  /** OK: the selected item, or targetless when nothing is selected. */
  public Choice ok(Item selected) {
    String target = selected == null ? null : selected.path;
    return new Choice(target, namespace);
  }
}
