#!/usr/bin/env bash
# Installs the system tools the tests need, idempotently: a tool that is
# already there is not touched, and apt-get runs only when something is
# missing (as root, as CI runs).
set -euo pipefail
need=()
# want COMMAND PACKAGE: install PACKAGE unless COMMAND exists.
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
want ip       iproute2     # network namespaces (agent, layer, port-forward tests)
want ss       iproute2
want iptables iptables     # the agent's REDIRECT chains
want socat    socat        # the relay benchmarks' baseline
want curl     curl
want openssl  openssl      # local control plane certificates
want flock    util-linux   # local control plane state lock
want setsid   util-linux
want python3  python3      # programs run under the layer
want node     nodejs
want npm      npm          # the VS Code extension
want nvim     neovim       # the real-editor test of mirrord-ls
want emacs    emacs-nox    # the Emacs test of extensions/emacs (eglot)
want vim      vim          # the Vim + ALE test of docs/editors.md
want script   bsdutils     # a pseudo-terminal for that Vim
[ -e /usr/share/vim-ale/plugin/ale.vim ] || need+=(vim-ale)
# eglot is built into Emacs 29 and later; Debian 12's Emacs 28 gets it from
# elpa-eglot.
if ! command -v emacs >/dev/null 2>&1 ||
  ! emacs --batch --eval '(kill-emacs (if (locate-library "eglot") 0 1))' >/dev/null 2>&1; then
  need+=(elpa-eglot)
fi
want javac    openjdk-17-jdk-headless  # the IntelliJ plugin core (make intellij-test)
[ -e /usr/share/java/gson.jar ] || need+=(libgoogle-gson-java)
[ -e /usr/share/java/junit-platform-console-standalone.jar ] || need+=(junit5)
# The real-editor test of the VS Code extension (make vscode-real-test):
# Debian's chromium, and what scripts/code-server-install.sh needs to build
# code-server's native modules from npm without downloads.
want chromium   chromium
want rg         ripgrep
want g++        g++
want pkg-config pkg-config
[ -e /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
[ -e /usr/include/krb5.h ] || need+=(libkrb5-dev)
want gcc      gcc          # the LD_PRELOAD layer
want make     make
want git      git
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
# The cluster's busybox image (make images) needs the static busybox of
# busybox-static; Debian's busybox package installs a dynamic one at the
# same path (ldd fails on a static program).
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "deps: installing $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "deps: node $(node --version) is too old; the VS Code extension needs node >= 20" >&2
  exit 1
fi
# Emacs 30 beside Debian's Emacs 28, for the Emacs test (idempotent).
bash "$(dirname "$0")/emacs30-install.sh" >/dev/null
echo "deps: ok"
