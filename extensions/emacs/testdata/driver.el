;;; driver.el --- drives mirrord-ls through Emacs and eglot, headless  -*- lexical-binding: t; -*-

;; Run by emacs_test.go as `emacs --batch -l driver.el' (no -Q: Debian's
;; elpa-eglot is activated by the site start-up, as for a user). Inputs
;; (environment):
;;   MIRRORD_INIT the init file: the elisp of docs/editors.md's Emacs section,
;;                loading extensions/emacs/mirrord-config-mode.el
;;   MIRRORD_WS   the project: a git repository holding the files below
;;   MIRRORD_OUT  where the results go, as JSON
;;   MIRRORD_DEADLINE  seconds to wait for each answer
;; mirrord-ls is found on PATH, as the docs say. The configuration is the
;; one docs/editors.md gives for Emacs 28 and later. The driver always
;; exits; failures are reported in the JSON as "error".

(require 'json)
(require 'seq)

(defvar drv-result nil "The results, an alist encoded as JSON at the end.")

(defun drv-put (key value)
  "Record VALUE under KEY."
  (setq drv-result (cons (cons key value) (assq-delete-all key drv-result))))

(defun drv-wait (what pred)
  "Run the event loop until PRED holds.
Signal an error naming WHAT after the deadline."
  (let ((deadline (+ (float-time) (string-to-number (or (getenv "MIRRORD_DEADLINE") "30")))))
    (while (not (funcall pred))
      (when (> (float-time) deadline)
        (error "Timed out waiting for %s" what))
      (accept-process-output nil 0.02))))

(defun drv-pos (pos)
  "POS as (LINE . COLUMN): line 1-based, column 0-based."
  (save-excursion
    (goto-char pos)
    (cons (line-number-at-pos) (current-column))))

(defun drv-diagnostics ()
  "The flymake diagnostics of the current buffer, as alists."
  (mapcar (lambda (d)
            (let ((beg (drv-pos (flymake-diagnostic-beg d)))
                  (end (drv-pos (flymake-diagnostic-end d))))
              `((line . ,(car beg)) (column . ,(cdr beg))
                (end_line . ,(car end)) (end_column . ,(cdr end))
                (type . ,(symbol-name (flymake-diagnostic-type d)))
                (text . ,(flymake-diagnostic-text d)))))
          (flymake-diagnostics)))

(defun drv-command-loop ()
  "What the command loop and redisplay do after a command; batch Emacs
has neither. `eglot-ensure' connects from `post-command-hook', and
flymake starts checking a buffer once it is displayed."
  (run-hooks 'post-command-hook)
  (run-hooks 'window-configuration-change-hook))

(defun drv-open-config (file)
  "Open FILE, wait for its diagnostics and describe them.
Then complete and hover after the \"mo\" of its `mode' key."
  (let ((start (float-time)))
    (with-current-buffer (find-file file)
      (drv-command-loop)
      (drv-wait (format "eglot to manage %s" file) (lambda () (bound-and-true-p eglot--managed-mode)))
      (drv-wait (format "diagnostics of %s" file) (lambda () (drv-command-loop) (flymake-diagnostics)))
      (let ((ms (round (* 1000 (- (float-time) start))))
            (diagnostics (vconcat (drv-diagnostics))))
        (goto-char (point-min))
        (search-forward "mode")
        (backward-char 2)
        ;; What completion-at-point offers there.
        (let* ((capf (eglot-completion-at-point))
               (completion (vconcat (all-completions "" (nth 2 capf))))
               (hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                       (eglot--TextDocumentPositionParams))))
          `((file . ,(file-relative-name file (getenv "MIRRORD_WS")))
            (mode . ,(symbol-name major-mode))
            (ms . ,ms)
            (diagnostics . ,diagnostics)
            (completion . ,completion)
            (hover . ((kind . ,(plist-get (plist-get hover :contents) :kind))
                      (value . ,(plist-get (plist-get hover :contents) :value))))))))))

(defun drv-run ()
  "The test."
  (let* ((ws (file-name-as-directory (getenv "MIRRORD_WS")))
         (json-file (expand-file-name ".mirrord/mirrord.json" ws)))
    ;; The configuration docs/editors.md gives (the test extracts it).
    (load (getenv "MIRRORD_INIT") nil t)
    (require 'eglot)
    (drv-put 'eglot_version (cond ((boundp 'eglot-version) eglot-version)
                                  ((string-match-p "/progmodes/" (or (locate-library "eglot") "")) "eglot (built in)")
                                  (t (let ((lib (locate-library "eglot"))) (and lib (file-name-nondirectory (directory-file-name (file-name-directory lib))))))))
    (drv-put 'emacs_version emacs-version)
    (drv-put 'configs
             (vconcat (mapcar (lambda (f) (drv-open-config (expand-file-name f ws)))
                              '(".mirrord/mirrord.json" "staging.mirrord.yaml" ".mirrord/dev.toml"))))
    (with-current-buffer (get-file-buffer json-file)
      (let ((server (eglot-current-server)))
        (drv-put 'servers (length (seq-filter (lambda (s) (equal (eglot--project s) (eglot--project server)))
                                              (gethash (eglot--project server) eglot--servers-by-project))))
        (drv-put 'server_name (plist-get (eglot--server-info server) :name))
        ;; What eglot sent as initializationOptions (the project is not in
        ;; mirrord-config-trusted-directories), and what it would send for
        ;; a project inside a trusted directory.
        (drv-put 'init_options (eglot-initialization-options server))
        (let ((mirrord-config-trusted-directories (list (file-name-directory (directory-file-name (getenv "MIRRORD_WS"))))))
          (drv-put 'trusted_contact (plist-get (mirrord-config-eglot-contact) :initializationOptions)))))
    ;; A file of the same project that is not a mirrord config.
    (let ((buf (find-file (expand-file-name "package.json" ws))))
      (with-current-buffer buf
        (drv-command-loop)
        ;; Give a wrongly started server time to show up.
        (let ((until (+ (float-time) 1.0)))
          (while (< (float-time) until) (accept-process-output nil 0.05)))
        (drv-put 'other `((mode . ,(symbol-name major-mode))
                          (managed . ,(if (bound-and-true-p eglot--managed-mode) t :json-false))
                          (server . ,(if (eglot-current-server) t :json-false))
                          (diagnostics . ,(if (bound-and-true-p flymake-mode) (length (flymake-diagnostics)) 0))))))
    ;; What mirrord-ls was told: package.json was never opened there.
    (with-current-buffer (get-file-buffer json-file)
      (let ((events (with-current-buffer (jsonrpc-events-buffer (eglot-current-server)) (buffer-string))))
        (drv-put 'events_mention_package_json (if (string-match-p "package\\.json" events) t :json-false))
        (drv-put 'language_ids (vconcat (seq-uniq (let (ids (start 0))
                                                    ;; eglot 1.9 logs plists, Emacs 30's eglot JSON
                                                    (while (string-match "\\(?::languageId \\|\"languageId\": ?\\)\"\\([^\"]+\\)\"" events start)
                                                      (push (match-string 1 events) ids)
                                                      (setq start (match-end 0)))
                                                    (nreverse ids)))))))
    ;; From a buffer the server manages: Emacs 30's eglot flushes the
    ;; current buffer's changes before the shutdown request.
    (with-current-buffer (get-file-buffer json-file)
      (eglot-shutdown (eglot-current-server)))))

(let ((out (getenv "MIRRORD_OUT")))
  (condition-case err
      (drv-run)
    (error (drv-put 'error (error-message-string err))
           (let ((buf (seq-find (lambda (b) (string-match-p "EGLOT.*events" (buffer-name b))) (buffer-list))))
             (when buf (drv-put 'events (with-current-buffer buf (buffer-string)))))))
  (with-temp-file out
    (insert (json-encode drv-result)))
  (kill-emacs 0))

;;; driver.el ends here
