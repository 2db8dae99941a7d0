package com.github.mirrordls.intellij.platform;

import com.intellij.openapi.options.Configurable;
import com.intellij.util.ui.FormBuilder;
import javax.swing.JCheckBox;
import javax.swing.JComponent;
import javax.swing.JTextField;

/** Settings → Tools → mirrord. */
public final class MirrordSettingsConfigurable implements Configurable {
  private final JTextField binary = new JTextField();
  private final JTextField extraArgs = new JTextField();
  private final JCheckBox enabledByDefault = new JCheckBox("Enable mirrord on startup");

  @Override
  public String getDisplayName() {
    return "mirrord";
  }

  @Override
  public JComponent createComponent() {
    reset();
    return FormBuilder.createFormBuilder()
        .addLabeledComponent("mirrord-ls binary (empty: PATH):", binary)
        .addLabeledComponent("Extra mirrord-ls arguments:", extraArgs)
        .addComponent(enabledByDefault)
        .addComponentFillVertically(new javax.swing.JPanel(), 0)
        .getPanel();
  }

  @Override
  public boolean isModified() {
    MirrordSettings.State s = MirrordSettings.getInstance().getState();
    return !binary.getText().equals(s.binaryPath)
        || !extraArgs.getText().equals(s.extraArgs)
        || enabledByDefault.isSelected() != s.enabledByDefault;
  }

  @Override
  public void apply() {
    MirrordSettings.State s = MirrordSettings.getInstance().getState();
    s.binaryPath = binary.getText().trim();
    s.extraArgs = extraArgs.getText().trim();
    s.enabledByDefault = enabledByDefault.isSelected();
  }

  @Override
  public void reset() {
    MirrordSettings.State s = MirrordSettings.getInstance().getState();
    binary.setText(s.binaryPath);
    extraArgs.setText(s.extraArgs);
    enabledByDefault.setSelected(s.enabledByDefault);
  }
}
