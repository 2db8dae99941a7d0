package com.github.mirrordls.intellij.core.picker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.mirrordls.intellij.core.ls.Model.Target;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TargetPickerTest {
  private static Target t(String kind, String name, boolean available) {
    Target t = new Target();
    t.kind = kind;
    t.name = name;
    t.path = kind + "/" + name;
    t.namespace = "staging";
    t.available = available;
    return t;
  }

  private static TargetList list(Target... targets) {
    TargetList l = new TargetList();
    l.targets = new ArrayList<>(List.of(targets));
    l.currentNamespace = "staging";
    l.namespaces = List.of("default", "staging");
    return l;
  }

  private static List<String> labels(TargetPicker p) {
    List<String> out = new ArrayList<>();
    for (TargetPicker.Item i : p.items()) {
      out.add(i.label);
    }
    return out;
  }

  @Test
  void lastChosenFirstUnavailableHiddenTargetlessLast() {
    TargetPicker p = new TargetPicker("deployment/web", null);
    p.setTargets(
        list(t("pod", "web-1", true), t("deployment", "idle", false), t("deployment", "web", true)));
    assertEquals(
        List.of("deployment/web", "pod/web-1", TargetPicker.TARGETLESS_LABEL), labels(p));
    assertNull(p.emptyMessage());
    assertEquals("staging", p.namespace());
    assertEquals(List.of("default", "staging"), p.namespaces());
  }

  @Test
  void kindsAndFilter() {
    TargetPicker p = new TargetPicker(null, null);
    p.setTargets(
        list(t("pod", "api-1", true), t("deployment", "api", true), t("rollout", "web", true)));
    p.setKindChecked("pod", false);
    assertEquals(List.of("deployment", "rollout"), p.kindsToRequest());
    assertEquals(List.of("deployment/api", "rollout/web", TargetPicker.TARGETLESS_LABEL), labels(p));
    p.setFilter("WEB");
    assertEquals(List.of("rollout/web", TargetPicker.TARGETLESS_LABEL), labels(p));
  }

  @Test
  void compatibleKindsLimitTheCheckboxes() {
    // copy_target.scale_down: no pod
    TargetPicker p = new TargetPicker(null, List.of("deployment", "rollout", "statefulset"));
    assertEquals(List.of("deployment", "rollout"), p.kindCheckboxes());
    assertEquals(List.of("deployment", "rollout"), p.kindsToRequest());
    p.setKindChecked("pod", true);
    assertEquals(List.of("deployment", "rollout"), p.kindsToRequest());
  }

  @Test
  void emptyListHasAMessageAndStillOffersTargetless() {
    TargetPicker p = new TargetPicker(null, null);
    p.setTargets(list(t("deployment", "idle", false)));
    assertTrue(p.emptyMessage().contains("namespace \"staging\""), p.emptyMessage());
    assertEquals(List.of(TargetPicker.TARGETLESS_LABEL), labels(p));
  }

  @Test
  void okWithoutSelectionIsTargetless() {
    TargetPicker p = new TargetPicker(null, null);
    p.setTargets(list(t("pod", "a", true)));
    p.setNamespace("default");
    TargetPicker.Choice none = p.ok(null);
    assertTrue(none.targetless());
    assertEquals("default", none.namespace);
    TargetPicker.Choice targetless = p.ok(p.items().get(1));
    assertTrue(targetless.targetless());
    assertEquals("pod/a", p.ok(p.items().get(0)).target);
  }
}
