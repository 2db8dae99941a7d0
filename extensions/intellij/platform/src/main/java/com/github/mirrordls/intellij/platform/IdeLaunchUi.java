package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.launch.LaunchFlow;
import com.github.mirrordls.intellij.core.ls.Model.Progress;
import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.picker.TargetPicker;
import com.intellij.notification.NotificationType;
import com.intellij.openapi.application.ApplicationManager;
import com.intellij.openapi.progress.ProgressIndicator;
import com.intellij.openapi.project.Project;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/** {@link LaunchFlow.Ui} on the IDE: the dialog on the EDT, notifications, the progress text. */
final class IdeLaunchUi implements LaunchFlow.Ui {
  private final Project project;
  private final MirrordProjectService service;
  private final ProgressIndicator indicator;

  IdeLaunchUi(Project project, ProgressIndicator indicator) {
    this.project = project;
    this.service = MirrordProjectService.of(project);
    this.indicator = indicator;
  }

  @Override
  public TargetPicker.Choice pickTarget(TargetPicker picker, Function<String, TargetList> relist) {
    AtomicReference<TargetPicker.Choice> out = new AtomicReference<>();
    ApplicationManager.getApplication()
        .invokeAndWait(
            () -> {
              TargetPickerDialog d = new TargetPickerDialog(project, picker, relist);
              d.show();
              out.set(d.choice());
            });
    return out.get();
  }

  @Override
  public void warn(String message) {
    service.notify(message, NotificationType.WARNING);
  }

  @Override
  public void info(String message) {
    service.log(message);
  }

  @Override
  public void progress(Progress p) {
    String text = p.message != null ? p.message : p.title;
    if (text != null) {
      service.log(text);
      if (indicator != null) {
        indicator.setText2(text);
      }
    }
  }
}
