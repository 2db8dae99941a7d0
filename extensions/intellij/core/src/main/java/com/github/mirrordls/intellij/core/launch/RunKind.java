package com.github.mirrordls.intellij.core.launch;

/** The kinds of run configuration the plugin hooks (reference ide-contract §2). */
public enum RunKind {
  /** Java Application, JUnit, TestNG: anything with CommonJavaRunConfigurationParameters. */
  JAVA,
  /** Gradle (ExternalSystemRunConfiguration). */
  GRADLE,
  /** PyCharm / the Python plugin. */
  PYTHON,
  /** GoLand / the Go plugin. */
  GO,
  /** Node.js run configurations. */
  NODE,
  /** npm / package.json scripts. */
  NPM,
  /** Anything else the platform can hand an environment to. */
  PLAIN
}
