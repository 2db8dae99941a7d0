package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.config.ConfigDiscovery;
import com.github.mirrordls.intellij.core.ls.Model.DiscoveredConfig;
import com.intellij.notification.NotificationType;
import com.intellij.openapi.actionSystem.ActionUpdateThread;
import com.intellij.openapi.actionSystem.AnAction;
import com.intellij.openapi.actionSystem.AnActionEvent;
import com.intellij.openapi.fileEditor.FileEditorManager;
import com.intellij.openapi.project.Project;
import com.intellij.openapi.ui.popup.JBPopupFactory;
import com.intellij.openapi.vfs.LocalFileSystem;
import com.intellij.openapi.vfs.VirtualFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The dropdown's config entries. Discovery itself is core's and the server's. */
public final class ConfigActions {
  private ConfigActions() {}

  static void open(Project project, Path path) {
    VirtualFile vf = LocalFileSystem.getInstance().refreshAndFindFileByNioFile(path);
    if (vf != null) {
      FileEditorManager.getInstance(project).openFile(vf, true);
    }
  }

  /** "Select Active Config": a searchable list of the project's config files. */
  public static final class SelectActive extends AnAction {
    @Override
    public void actionPerformed(AnActionEvent e) {
      Project project = e.getProject();
      if (project == null) {
        return;
      }
      MirrordProjectService s = MirrordProjectService.of(project);
      List<Path> found;
      try {
        found = ConfigDiscovery.candidates(s.projectDir());
      } catch (IOException ex) {
        s.notify("listing mirrord configs: " + ex.getMessage(), NotificationType.ERROR);
        return;
      }
      if (found.isEmpty()) {
        s.notify("No mirrord config in the project", NotificationType.WARNING);
        return;
      }
      JBPopupFactory.getInstance()
          .createPopupChooserBuilder(found)
          .setTitle("Select Active mirrord Config")
          .setNamerForFiltering(p -> s.projectDir().relativize(p).toString())
          .setItemChosenCallback(
              p -> {
                s.activeConfig().set(p);
                s.notify("Active mirrord config: " + p, NotificationType.INFORMATION);
              })
          .createPopup()
          .showCenteredInCurrentWindow(project);
    }

    @Override
    public ActionUpdateThread getActionUpdateThread() {
      return ActionUpdateThread.BGT;
    }
  }

  /** "Unset Active Config". */
  public static final class UnsetActive extends AnAction {
    @Override
    public void update(AnActionEvent e) {
      Project p = e.getProject();
      e.getPresentation()
          .setEnabled(p != null && MirrordProjectService.of(p).activeConfig().get() != null);
    }

    @Override
    public void actionPerformed(AnActionEvent e) {
      Project p = e.getProject();
      if (p != null) {
        MirrordProjectService.of(p).activeConfig().set(null);
      }
    }

    @Override
    public ActionUpdateThread getActionUpdateThread() {
      return ActionUpdateThread.BGT;
    }
  }

  /** "mirrord config file": opens the config a launch would use, or creates the default. */
  public static final class OpenConfig extends AnAction {
    @Override
    public void actionPerformed(AnActionEvent e) {
      Project project = e.getProject();
      if (project == null) {
        return;
      }
      MirrordProjectService s = MirrordProjectService.of(project);
      try {
        DiscoveredConfig d =
            s.client().discoverConfig(s.projectDir(), s.activeConfig().get(), Map.of());
        Path path = d.path != null ? Path.of(d.path) : ConfigDiscovery.createDefault(s.projectDir());
        open(project, path);
      } catch (RuntimeException | IOException ex) {
        s.notify("mirrord config: " + ex.getMessage(), NotificationType.ERROR);
      }
    }

    @Override
    public ActionUpdateThread getActionUpdateThread() {
      return ActionUpdateThread.BGT;
    }
  }
}
