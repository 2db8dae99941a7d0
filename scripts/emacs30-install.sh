#!/usr/bin/env bash
# Installs Emacs 30 (with its built-in eglot) beside Debian 12's Emacs 28,
# for the Emacs test of extensions/emacs: the emacs-nox packages of
# bookworm-backports, fetched from the Debian archive, checked against the
# pinned SHA-256 sums and unpacked (dpkg -x) under .cache/emacs-30.1. The
# system's Emacs is not touched. Idempotent: prints the path of the wrapper
# that runs it, and does nothing else once it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=30.1
DEBVER='30.1+1-6~bpo12+1'
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DIR=$PWD/.cache/emacs-$VERSION
WRAPPER=$DIR/emacs
if [ -x "$WRAPPER" ] && "$WRAPPER" --batch --eval '(kill-emacs 0)' >/dev/null 2>&1; then
  echo "$WRAPPER"
  exit 0
fi
# package  sha256 (from bookworm-backports' Packages index)
PACKAGES=(
  "emacs-nox_${DEBVER}_amd64.deb c6ac445057492352570a74e08db35f38044919f5f7ad75ba7cac100b4bb0e2fb"
  "emacs-bin-common_${DEBVER}_amd64.deb 08f553e4873922299857be6c43f5dd97e1f439ab142c5d25b2900d17827c70db"
  "emacs-common_${DEBVER}_all.deb 4c24ad0a35d2e53872ab0c182b305d0098aa8a4670682a6a39c7f7e0e70f5ff6"
)
if [ "$(dpkg --print-architecture)" != amd64 ]; then
  echo "emacs30-install: only amd64 is pinned here" >&2
  exit 1
fi
mkdir -p "$(dirname "$DIR")"
tmp=$(mktemp -d "${DIR}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for p in "${PACKAGES[@]}"; do
  read -r file sum <<<"$p"
  url="$MIRROR/pool/main/e/emacs/${file//\~/%7E}"
  echo "emacs30-install: fetching $file" >&2
  curl -fsSL --retry 3 -o "$tmp/$file" "$url"
  echo "$sum  $tmp/$file" | sha256sum -c --quiet -
  dpkg-deb -x "$tmp/$file" "$tmp/root"
done
# Emacs is built for /usr: point it at the unpacked tree.
cat >"$tmp/emacs" <<EOF
#!/bin/sh
# Emacs $VERSION from bookworm-backports, unpacked by scripts/emacs30-install.sh.
R='$DIR/root'
LP=\$(find "\$R/usr/share/emacs/$VERSION/lisp" -type d | tr '\n' ':')
export EMACSLOADPATH="\$LP"
export EMACSDATA="\$R/usr/share/emacs/$VERSION/etc" EMACSDOC="\$R/usr/share/emacs/$VERSION/etc"
export EMACSPATH="\$R/usr/libexec/emacs/$VERSION/x86_64-linux-gnu"
exec "\$R/usr/bin/emacs-nox" --dump-file="\$(ls "\$R"/usr/libexec/emacs/$VERSION/x86_64-linux-gnu/*.pdmp)" "\$@"
EOF
chmod +x "$tmp/emacs"
rm -rf "$DIR"
mkdir -p "$DIR"
mv "$tmp/root" "$tmp/emacs" "$DIR/"
"$WRAPPER" --batch --eval '(kill-emacs (if (locate-library "eglot") 0 1))' 2>/dev/null ||
  { echo "emacs30-install: the unpacked Emacs does not start" >&2; exit 1; }
echo "$WRAPPER"
