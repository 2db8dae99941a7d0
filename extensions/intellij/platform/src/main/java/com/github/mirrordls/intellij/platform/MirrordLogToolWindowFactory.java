package com.github.mirrordls.intellij.platform;

import com.intellij.execution.filters.TextConsoleBuilderFactory;
import com.intellij.execution.ui.ConsoleView;
import com.intellij.execution.ui.ConsoleViewContentType;
import com.intellij.openapi.project.Project;
import com.intellij.openapi.wm.ToolWindow;
import com.intellij.openapi.wm.ToolWindowFactory;
import com.intellij.ui.content.Content;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;

/** The "mirrord Logs" tool window: timestamped lines from the client and mirrord-ls. */
public final class MirrordLogToolWindowFactory implements ToolWindowFactory {
  @Override
  public void createToolWindowContent(Project project, ToolWindow toolWindow) {
    ConsoleView console = TextConsoleBuilderFactory.getInstance().createBuilder(project).getConsole();
    Content content =
        toolWindow.getContentManager().getFactory().createContent(console.getComponent(), "", false);
    toolWindow.getContentManager().addContent(content);
    MirrordProjectService.of(project)
        .addLogSink(
            line ->
                console.print(
                    LocalTime.now().truncatedTo(ChronoUnit.SECONDS) + " " + line + "\n",
                    ConsoleViewContentType.NORMAL_OUTPUT));
  }
}
