package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.launch.LaunchFlow;
import com.github.mirrordls.intellij.core.launch.RunKind;
import com.intellij.execution.ExecutionListener;
import com.intellij.execution.process.ProcessHandler;
import com.intellij.execution.runners.ExecutionEnvironment;
import com.intellij.openapi.externalSystem.service.execution.ExternalSystemRunConfiguration;
import com.intellij.openapi.externalSystem.model.execution.ExternalSystemTaskExecutionSettings;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Gradle: the External System settings are the only place the platform reads a Gradle run's
 * environment from, so (like the official plugin) the settings get the session's environment for
 * this run and are restored when the process ends or fails to start. If the IDE dies in between,
 * the left-behind guard (core LaunchGate) refuses the next run with a message.
 */
public final class MirrordGradleExecutionListener implements ExecutionListener {
  private final Map<ExecutionEnvironment, Map<String, String>> saved = new ConcurrentHashMap<>();

  @Override
  public void processStartScheduled(String executorId, ExecutionEnvironment env) {
    if (!(env.getRunProfile() instanceof ExternalSystemRunConfiguration)) {
      return;
    }
    ExternalSystemRunConfiguration rc = (ExternalSystemRunConfiguration) env.getRunProfile();
    if (!"GRADLE".equals(rc.getSettings().getExternalSystemIdString())) {
      return;
    }
    ExternalSystemTaskExecutionSettings settings = rc.getSettings();
    LaunchFlow.Request r = new LaunchFlow.Request();
    r.kind = RunKind.GRADLE;
    r.runEnv = new LinkedHashMap<>(settings.getEnv());
    r.configName = rc.getName();
    r.gradleTasks = settings.getTaskNames();
    LaunchFlow.Outcome o = Launches.run(env.getProject(), r);
    if (o == null || o.kind != LaunchFlow.Kind.WITH_MIRRORD) {
      // ABORT was notified; the platform API has no veto here, the run goes on without mirrord
      return;
    }
    saved.put(env, new LinkedHashMap<>(settings.getEnv()));
    settings.setEnv(o.env.set);
  }

  private void restore(ExecutionEnvironment env) {
    Map<String, String> old = saved.remove(env);
    if (old != null) {
      ((ExternalSystemRunConfiguration) env.getRunProfile()).getSettings().setEnv(old);
    }
  }

  @Override
  public void processNotStarted(String executorId, ExecutionEnvironment env) {
    restore(env);
  }

  @Override
  public void processTerminated(
      String executorId, ExecutionEnvironment env, ProcessHandler handler, int exitCode) {
    restore(env);
  }
}
