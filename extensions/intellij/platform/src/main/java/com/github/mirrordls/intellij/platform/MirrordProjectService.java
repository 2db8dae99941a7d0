package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.config.ActiveConfig;
import com.github.mirrordls.intellij.core.config.ConfigDiscovery;
import com.github.mirrordls.intellij.core.ls.MirrordLsClient;
import com.intellij.notification.NotificationGroupManager;
import com.intellij.notification.NotificationType;
import com.intellij.openapi.Disposable;
import com.intellij.openapi.components.Service;
import com.intellij.openapi.project.Project;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Per-project state: the toggle, the active config, and the one mirrord-ls client (started on first
 * use, restarted by the core when it dies, shut down with the project).
 */
@Service(Service.Level.PROJECT)
public final class MirrordProjectService implements Disposable {
  private final Project project;
  private final ActiveConfig activeConfig = new ActiveConfig();
  private final List<Consumer<String>> logSinks = new CopyOnWriteArrayList<>();
  private volatile boolean enabled = MirrordSettings.getInstance().getState().enabledByDefault;
  private MirrordLsClient client;

  public MirrordProjectService(Project project) {
    this.project = project;
  }

  public static MirrordProjectService of(Project project) {
    return project.getService(MirrordProjectService.class);
  }

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean on) {
    enabled = on;
  }

  public ActiveConfig activeConfig() {
    return activeConfig;
  }

  /** The project directory by IntelliJ's rule (parent of .idea, or of the .ipr file). */
  public Path projectDir() {
    String file = project.getProjectFilePath();
    if (file != null) {
      return ConfigDiscovery.projectDir(Path.of(file));
    }
    return Path.of(project.getBasePath());
  }

  public synchronized MirrordLsClient client() {
    if (client == null) {
      MirrordSettings.State s = MirrordSettings.getInstance().getState();
      MirrordLsClient.Options o = new MirrordLsClient.Options();
      o.binary = Path.of(s.binaryPath.isEmpty() ? "mirrord-ls" : s.binaryPath);
      if (!s.extraArgs.isBlank()) {
        o.extraArgs = Arrays.asList(s.extraArgs.trim().split("\\s+"));
      }
      o.workspaceFolder = projectDir();
      o.workspaceTrusted = () -> com.intellij.ide.trustedProjects.TrustedProjects.isProjectTrusted(project);
      client = new MirrordLsClient(o);
      client.addListener(
          new MirrordLsClient.Listener() {
            @Override
            public void onLog(int type, String message) {
              log(message);
            }

            @Override
            public void onServerGone(String why) {
              log(why + " (it is started again on the next use)");
            }
          });
    }
    return client;
  }

  public void addLogSink(Consumer<String> sink) {
    logSinks.add(sink);
  }

  public void log(String line) {
    for (Consumer<String> s : logSinks) {
      s.accept(line);
    }
  }

  public void notify(String message, NotificationType type) {
    log(message);
    NotificationGroupManager.getInstance()
        .getNotificationGroup("mirrord")
        .createNotification(message, type)
        .notify(project);
  }

  @Override
  public synchronized void dispose() {
    if (client != null) {
      client.close();
      client = null;
    }
  }
}
