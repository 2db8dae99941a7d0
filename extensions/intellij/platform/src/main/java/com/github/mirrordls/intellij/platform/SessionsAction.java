package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.ls.Model.SessionInfo;
import com.intellij.notification.NotificationType;
import com.intellij.openapi.actionSystem.ActionUpdateThread;
import com.intellij.openapi.actionSystem.AnAction;
import com.intellij.openapi.actionSystem.AnActionEvent;
import com.intellij.openapi.application.ApplicationManager;
import com.intellij.openapi.project.Project;
import com.intellij.openapi.ui.popup.JBPopupFactory;
import java.util.List;

/** Lists the local sessions; choosing one stops it. */
public final class SessionsAction extends AnAction {
  @Override
  public void actionPerformed(AnActionEvent e) {
    Project project = e.getProject();
    if (project == null) {
      return;
    }
    MirrordProjectService s = MirrordProjectService.of(project);
    ApplicationManager.getApplication()
        .executeOnPooledThread(
            () -> {
              List<SessionInfo> sessions;
              try {
                sessions = s.client().listSessions();
              } catch (RuntimeException ex) {
                s.notify("mirrord sessions: " + ex.getMessage(), NotificationType.ERROR);
                return;
              }
              if (sessions.isEmpty()) {
                s.notify("No mirrord session is running", NotificationType.INFORMATION);
                return;
              }
              ApplicationManager.getApplication()
                  .invokeLater(
                      () ->
                          JBPopupFactory.getInstance()
                              .createPopupChooserBuilder(sessions)
                              .setTitle("Stop a mirrord Session")
                              .setRenderer(
                                  new com.intellij.ui.SimpleListCellRenderer<SessionInfo>() {
                                    @Override
                                    public void customize(
                                        javax.swing.JList<? extends SessionInfo> list,
                                        SessionInfo v,
                                        int index,
                                        boolean selected,
                                        boolean focus) {
                                      setText(
                                          v.target + " (" + v.namespace + ")  pid " + v.pid
                                              + "  since " + v.startedAt);
                                    }
                                  })
                              .setItemChosenCallback(
                                  v ->
                                      ApplicationManager.getApplication()
                                          .executeOnPooledThread(
                                              () -> {
                                                try {
                                                  s.client().stopSession(v.sessionId);
                                                  s.notify(
                                                      "Stopped mirrord session " + v.sessionId,
                                                      NotificationType.INFORMATION);
                                                } catch (RuntimeException ex) {
                                                  s.notify(ex.getMessage(), NotificationType.ERROR);
                                                }
                                              }))
                              .createPopup()
                              .showCenteredInCurrentWindow(project));
            });
  }

  @Override
  public ActionUpdateThread getActionUpdateThread() {
    return ActionUpdateThread.BGT;
  }
}
