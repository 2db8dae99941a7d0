package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.launch.LaunchFlow;
import com.github.mirrordls.intellij.core.launch.RunKind;
import com.intellij.execution.CommonJavaRunConfigurationParameters;
import com.intellij.execution.ExecutionException;
import com.intellij.execution.RunConfigurationExtension;
import com.intellij.execution.configurations.JavaParameters;
import com.intellij.execution.configurations.RunConfigurationBase;
import com.intellij.execution.configurations.RunnerSettings;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Java Application, JUnit, TestNG, …: the launch's JavaParameters get the session's environment
 * ({@link com.github.mirrordls.intellij.core.launch.EnvMerge} for {@link RunKind#JAVA}). Nothing is
 * written to the stored run configuration.
 */
public final class MirrordJavaRunConfigurationExtension extends RunConfigurationExtension {
  @Override
  public boolean isApplicableFor(RunConfigurationBase<?> configuration) {
    return configuration instanceof CommonJavaRunConfigurationParameters;
  }

  @Override
  public <T extends RunConfigurationBase<?>> void updateJavaParameters(
      T configuration, JavaParameters params, RunnerSettings runnerSettings)
      throws ExecutionException {
    LaunchFlow.Request r = new LaunchFlow.Request();
    r.kind = RunKind.JAVA;
    r.runEnv = new LinkedHashMap<>(params.getEnv());
    r.configName = configuration.getName();
    LaunchFlow.Outcome o = Launches.run(configuration.getProject(), r);
    if (o == null || o.kind == LaunchFlow.Kind.WITHOUT_MIRRORD) {
      return;
    }
    if (o.kind == LaunchFlow.Kind.ABORT) {
      throw new ExecutionException("mirrord: " + o.message);
    }
    if (o.env.unset.isEmpty()) {
      params.setEnv(new LinkedHashMap<>(o.env.set));
    } else {
      // env_to_unset also removes inherited variables: hand over the whole environment
      Map<String, String> inherited = params.isPassParentEnvs() ? System.getenv() : Map.of();
      params.setEnv(o.env.applyTo(inherited));
      params.setPassParentEnvs(false);
    }
  }
}
