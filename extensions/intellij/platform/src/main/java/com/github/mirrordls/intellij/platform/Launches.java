package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.launch.LaunchFlow;
import com.intellij.notification.NotificationType;
import com.intellij.openapi.application.ApplicationManager;
import com.intellij.openapi.progress.ProgressIndicator;
import com.intellij.openapi.progress.ProgressManager;
import com.intellij.openapi.project.Project;
import java.util.concurrent.atomic.AtomicReference;

/** Runs core's launch flow with a progress indicator and records the picked target. */
final class Launches {
  private Launches() {}

  /** Blocks; from the EDT it shows a modal progress, elsewhere it runs in place. */
  static LaunchFlow.Outcome run(Project project, LaunchFlow.Request request) {
    MirrordProjectService s = MirrordProjectService.of(project);
    request.enabled = s.isEnabled();
    request.projectDir = s.projectDir();
    request.activeConfig = s.activeConfig().get();
    String last = MirrordSettings.getInstance().getState().lastChosenTarget;
    request.lastTarget = last.isEmpty() ? null : last;
    AtomicReference<LaunchFlow.Outcome> out = new AtomicReference<>();
    Runnable work =
        () -> {
          ProgressIndicator ind = ProgressManager.getInstance().getProgressIndicator();
          out.set(LaunchFlow.run(s.client(), request, new IdeLaunchUi(project, ind)));
        };
    if (ApplicationManager.getApplication().isDispatchThread()) {
      ProgressManager.getInstance()
          .runProcessWithProgressSynchronously(work, "mirrord preparing to launch", true, project);
    } else {
      work.run();
    }
    LaunchFlow.Outcome o = out.get();
    if (o == null) {
      return null;
    }
    if (o.pickedTarget != null) {
      MirrordSettings.getInstance().getState().lastChosenTarget = o.pickedTarget;
    }
    if (o.kind == LaunchFlow.Kind.ABORT) {
      s.notify(o.message, NotificationType.ERROR);
    } else {
      s.log(o.toString());
    }
    return o;
  }
}
