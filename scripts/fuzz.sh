#!/usr/bin/env bash
# Runs every fuzz target in the module for $1 (default 60s) each, and the
# targets that parse what an unauthenticated peer sends the agent (the
# handshake, message framing, datagrams and stream headers of package
# protocol: issue 15's hostile strangers) for $2 (default 5m) each.
set -euo pipefail
t=${1:-60s}
wire_t=${2:-5m}
wire='^(FuzzServerHandshake|FuzzReadMessage|FuzzReadDatagram|FuzzHeader)$'
fail=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | awk '{print $2}' | sort -u); do
    d=$t
    if [[ $pkg == */protocol && $f =~ $wire ]]; then
      d=$wire_t
    fi
    echo "== $pkg $f ($d)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$d" "$pkg" || fail=1
  done
done
exit $fail
