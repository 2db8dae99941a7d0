package com.github.mirrordls.intellij.platform;

import com.intellij.notification.NotificationType;
import com.intellij.openapi.actionSystem.ActionUpdateThread;
import com.intellij.openapi.actionSystem.AnActionEvent;
import com.intellij.openapi.actionSystem.ToggleAction;
import com.intellij.openapi.project.Project;

/** The run-toolbar toggle: "mirrord enabled/disabled". */
public final class ToggleMirrordAction extends ToggleAction {
  @Override
  public boolean isSelected(AnActionEvent e) {
    Project p = e.getProject();
    return p != null && MirrordProjectService.of(p).isEnabled();
  }

  @Override
  public void setSelected(AnActionEvent e, boolean state) {
    Project p = e.getProject();
    if (p == null) {
      return;
    }
    MirrordProjectService s = MirrordProjectService.of(p);
    s.setEnabled(state);
    s.notify(state ? "mirrord enabled" : "mirrord disabled", NotificationType.INFORMATION);
  }

  @Override
  public ActionUpdateThread getActionUpdateThread() {
    return ActionUpdateThread.BGT;
  }
}
