package com.github.mirrordls.intellij.platform;

import com.github.mirrordls.intellij.core.ls.Model.TargetList;
import com.github.mirrordls.intellij.core.picker.TargetPicker;
import com.intellij.openapi.project.Project;
import com.intellij.openapi.ui.ComboBox;
import com.intellij.openapi.ui.DialogWrapper;
import com.intellij.ui.SearchTextField;
import com.intellij.ui.components.JBList;
import com.intellij.ui.components.JBScrollPane;
import java.awt.BorderLayout;
import java.util.function.Function;
import javax.swing.BoxLayout;
import javax.swing.DefaultListModel;
import javax.swing.JCheckBox;
import javax.swing.JComponent;
import javax.swing.JLabel;
import javax.swing.JPanel;
import javax.swing.event.DocumentEvent;

/**
 * The modal "mirrord" target dialog: a view of core's {@link TargetPicker}, which decides what the
 * list holds. Listing another namespace runs on the calling thread (the server answers from its
 * cache); a long first listing keeps the dialog busy.
 */
final class TargetPickerDialog extends DialogWrapper {
  private final TargetPicker picker;
  private final Function<String, TargetList> relist;
  private final DefaultListModel<TargetPicker.Item> model = new DefaultListModel<>();
  private final JBList<TargetPicker.Item> list = new JBList<>(model);
  private final JLabel empty = new JLabel();

  TargetPickerDialog(Project project, TargetPicker picker, Function<String, TargetList> relist) {
    super(project, true);
    this.picker = picker;
    this.relist = relist;
    setTitle("mirrord");
    setOKButtonText("OK");
    init();
    refresh();
  }

  private void refresh() {
    model.clear();
    for (TargetPicker.Item i : picker.items()) {
      model.addElement(i);
    }
    String msg = picker.emptyMessage();
    empty.setText(msg == null ? "" : msg);
    empty.setVisible(msg != null);
  }

  @Override
  protected JComponent createCenterPanel() {
    JPanel top = new JPanel();
    top.setLayout(new BoxLayout(top, BoxLayout.Y_AXIS));
    if (!picker.namespaces().isEmpty()) {
      ComboBox<String> ns = new ComboBox<>(picker.namespaces().toArray(new String[0]));
      ns.setSelectedItem(picker.namespace());
      ns.addActionListener(
          e -> {
            String chosen = (String) ns.getSelectedItem();
            picker.setTargets(relist.apply(chosen));
            picker.setNamespace(chosen);
            refresh();
          });
      top.add(ns);
    }
    JPanel kinds = new JPanel();
    for (String kind : picker.kindCheckboxes()) {
      JCheckBox box = new JCheckBox(kind + "s", picker.isKindChecked(kind));
      box.addActionListener(
          e -> {
            picker.setKindChecked(kind, box.isSelected());
            picker.setTargets(relist.apply(picker.namespace()));
            refresh();
          });
      kinds.add(box);
    }
    top.add(kinds);
    SearchTextField filter = new SearchTextField(false);
    filter.addDocumentListener(
        new com.intellij.ui.DocumentAdapter() {
          @Override
          protected void textChanged(DocumentEvent e) {
            picker.setFilter(filter.getText());
            refresh();
          }
        });
    top.add(filter);
    top.add(empty);
    JPanel panel = new JPanel(new BorderLayout());
    panel.add(top, BorderLayout.NORTH);
    panel.add(new JBScrollPane(list), BorderLayout.CENTER);
    return panel;
  }

  /** OK: the selection (none: targetless); Cancel: null. */
  TargetPicker.Choice choice() {
    return isOK() ? picker.ok(list.getSelectedValue()) : null;
  }
}
