;;; mirrord-config-mode.el --- Major modes for mirrord config files, served by mirrord-ls  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: languages, tools
;; URL: https://github.com/mirrord-ls/mirrord-ls

;;; Commentary:

;; mirrord config files are JSON, YAML or TOML files with names that
;; mirrord knows: *mirrord.json (also .yaml, .yml, .toml) anywhere, and any
;; .json, .yaml, .yml or .toml file directly inside a .mirrord/ folder.
;; This file opens exactly those files in a mode of their own, derived
;; from the JSON, YAML or TOML mode this Emacs has, and tells eglot to
;; start mirrord-ls for these modes only, so every other JSON, YAML and
;; TOML file keeps its own mode and its own language server.
;;
;;   (load "/path/to/mirrord-config-mode.el")     ; or `require' from load-path
;;   (add-hook 'mirrord-config-mode-hook #'eglot-ensure)
;;
;; Works with Emacs 28 and the eglot of Debian's elpa-eglot, and with the
;; eglot built into Emacs 29 and later.
;;
;; The modes:
;;   `mirrord-config-json-mode'  derived from `js-json-mode' (Emacs 29+) or `js-mode';
;;   `mirrord-config-yaml-mode'  derived from `yaml-ts-mode' (with its grammar),
;;                               `yaml-mode' (a separate package) or `conf-colon-mode';
;;   `mirrord-config-toml-mode'  derived from `toml-ts-mode' (with its grammar) or
;;                               `conf-toml-mode'.
;; `mirrord-config-mode' picks one of them by the file's extension; every
;; one of them runs `mirrord-config-mode-hook' after its own hooks.

;;; Code:

(require 'seq)

(defgroup mirrord-config nil
  "mirrord config files and the mirrord-ls language server."
  :group 'languages
  :prefix "mirrord-config-")

(defcustom mirrord-config-server-command '("mirrord-ls" "--stdio")
  "How eglot starts mirrord-ls: the program and its arguments.
Changing it after eglot is loaded takes effect for servers started later."
  :type '(repeat string)
  :group 'mirrord-config)

(defcustom mirrord-config-trusted-directories nil
  "Directories whose projects you trust mirrord-ls with.
mirrord-ls uses a kubeconfig that a project's config file names (its
`kubeconfig' field: that cluster, its exec credential plugins) only in a
trusted project, as VS Code's workspace trust does; every project starts
untrusted. A project is trusted when its root is one of these
directories or inside one. Your own kubeconfig (KUBECONFIG or
~/.kube/config) is used everywhere. Read when mirrord-ls starts for a
project: run `eglot-reconnect' after changing it."
  :type '(repeat directory)
  :group 'mirrord-config)

(defcustom mirrord-config-mode-hook nil
  "Hook run by every mirrord config mode, after the mode's own hooks.
Add `eglot-ensure' here to start mirrord-ls in mirrord config files."
  :type 'hook
  :group 'mirrord-config)

(defconst mirrord-config-file-regexps
  '("mirrord\\.\\(?:json\\|ya?ml\\|toml\\)\\'"
    "/\\.mirrord/[^/]+\\.\\(?:json\\|ya?ml\\|toml\\)\\'")
  "File names of mirrord configs: *mirrord.EXT anywhere, and .mirrord/*.EXT.")

(defun mirrord-config-file-p (file)
  "Return non-nil when FILE is a mirrord config file."
  (and file
       (let ((case-fold-search t))
         (seq-some (lambda (re) (string-match-p re file)) mirrord-config-file-regexps))))

;; The parents are chosen once, when this file is loaded (and compiled),
;; from what this Emacs has. Each is reached through an alias whose
;; `derived-mode-parent' is the real mode, so `derived-mode-p' sees the
;; whole chain (mirrord-config-json-mode is a js-mode, say).
(eval-and-compile
  (defun mirrord-config--treesit-p (language)
    "Return non-nil when tree-sitter has a grammar for LANGUAGE."
    (and (fboundp 'treesit-language-available-p)
         (funcall 'treesit-language-available-p language)))

  (defun mirrord-config--parent (alias candidates)
    "Make ALIAS the first available mode of CANDIDATES.
A candidate is a mode, or (MODE . PREDICATE) for a mode that also needs
PREDICATE to hold."
    (let ((mode (seq-find (lambda (c)
                            (if (consp c)
                                (and (fboundp (car c)) (funcall (cdr c)))
                              (fboundp c)))
                          candidates)))
      (when (consp mode) (setq mode (car mode)))
      (defalias alias mode)
      (put alias 'derived-mode-parent mode)
      mode))

  (mirrord-config--parent 'mirrord-config--json-parent-mode
                          '(js-json-mode js-mode))
  (mirrord-config--parent 'mirrord-config--yaml-parent-mode
                          `((yaml-ts-mode . ,(lambda () (mirrord-config--treesit-p 'yaml)))
                            yaml-mode conf-colon-mode fundamental-mode))
  (mirrord-config--parent 'mirrord-config--toml-parent-mode
                          `((toml-ts-mode . ,(lambda () (mirrord-config--treesit-p 'toml)))
                            conf-toml-mode fundamental-mode)))

;;;###autoload
(define-derived-mode mirrord-config-json-mode mirrord-config--json-parent-mode "mirrord[json]"
  "Major mode for mirrord config files in JSON."
  :after-hook (run-hooks 'mirrord-config-mode-hook))

;;;###autoload
(define-derived-mode mirrord-config-yaml-mode mirrord-config--yaml-parent-mode "mirrord[yaml]"
  "Major mode for mirrord config files in YAML."
  :after-hook (run-hooks 'mirrord-config-mode-hook))

;;;###autoload
(define-derived-mode mirrord-config-toml-mode mirrord-config--toml-parent-mode "mirrord[toml]"
  "Major mode for mirrord config files in TOML."
  :after-hook (run-hooks 'mirrord-config-mode-hook))

(defconst mirrord-config-modes
  '(mirrord-config-json-mode mirrord-config-yaml-mode mirrord-config-toml-mode)
  "The mirrord config modes; eglot runs one mirrord-ls per project for all.")

;;;###autoload
(defun mirrord-config-mode ()
  "Open the current buffer in the mirrord config mode of its format.
The format comes from the file's extension: .json, .yaml/.yml or .toml."
  (interactive)
  (let ((ext (downcase (or (file-name-extension (or buffer-file-name "")) ""))))
    (cond
     ((member ext '("yaml" "yml")) (mirrord-config-yaml-mode))
     ((equal ext "toml") (mirrord-config-toml-mode))
     (t (mirrord-config-json-mode)))))

;; Also written out for autoloads, where the constant above is unknown.
;;;###autoload
(add-to-list 'auto-mode-alist '("mirrord\\.\\(?:json\\|ya?ml\\|toml\\)\\'" . mirrord-config-mode))
;;;###autoload
(add-to-list 'auto-mode-alist '("/\\.mirrord/[^/]+\\.\\(?:json\\|ya?ml\\|toml\\)\\'" . mirrord-config-mode))

(defun mirrord-config-trusted-p (dir)
  "Return non-nil when DIR is in `mirrord-config-trusted-directories'."
  (let ((dir (file-name-as-directory (file-truename dir))))
    (seq-some (lambda (trusted)
                (string-prefix-p (file-name-as-directory (file-truename (expand-file-name trusted)))
                                 dir))
              mirrord-config-trusted-directories)))

(defun mirrord-config--project-root ()
  "The root of the current project, else `default-directory'."
  (let ((project (and (fboundp 'project-current) (project-current))))
    (cond ((null project) default-directory)
          ((fboundp 'project-root) (project-root project))
          (t (car (with-no-warnings (project-roots project)))))))

(defun mirrord-config-eglot-contact (&rest _)
  "The eglot contact of mirrord-ls for the current project.
It carries the project's trust: initializationOptions.workspaceTrusted."
  (append mirrord-config-server-command
          (list :initializationOptions
                (list :workspaceTrusted
                      (if (mirrord-config-trusted-p (mirrord-config--project-root)) t :json-false)))))

(defun mirrord-config-eglot-setup ()
  "Make eglot start mirrord-ls for the mirrord config modes.
The entry goes first in `eglot-server-programs', so it wins over entries
for the parent modes (`js-mode', `conf-toml-mode', ...). Call it again
after adding such entries."
  (interactive)
  (when (boundp 'eglot-server-programs)
    (setq eglot-server-programs
          (cons (cons mirrord-config-modes #'mirrord-config-eglot-contact)
                (seq-remove (lambda (entry) (equal (car-safe entry) mirrord-config-modes))
                            eglot-server-programs)))))

(with-eval-after-load 'eglot (mirrord-config-eglot-setup))

(provide 'mirrord-config-mode)
;;; mirrord-config-mode.el ends here
