#!/usr/bin/env bash
# Installs FerretDB v1.24.2 (a MongoDB wire-protocol server on SQLite) for the MongoDB engine's
# tests, and starts it on 127.0.0.1. Usage: scripts/ferretdb.sh install | start PORT DIR
# `go install ...@v1.24.2` is tried first. Where the module proxy refuses the version list that
# go install reads for deprecation notices, the module is downloaded and built from its source,
# with the version file that the release build would have generated.
set -euo pipefail
VERSION=v1.24.2
MOD=github.com/FerretDB/FerretDB
BIN="$(go env GOPATH)/bin/ferretdb"

install() {
  if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "version: $VERSION"; then return 0; fi
  if go install "$MOD/cmd/ferretdb@$VERSION" 2>/dev/null && "$BIN" --version >/dev/null 2>&1; then return 0; fi
  # FerretDB v1.24 needs Go >= 1.24; let the module proxy supply it where the local Go is older.
  local gover; gover=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n1.24\n' "$gover" | sort -V | head -1)" != "1.24" ]; then export GOTOOLCHAIN=go1.24.4; fi
  local dir; dir=$(go mod download -json "$MOD@$VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local src; src=$(mktemp -d)
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  echo "$VERSION" > "$src/build/version/version.txt"
  (cd "$src" && go build -o "$BIN" ./cmd/ferretdb)
  rm -rf "$src"
  "$BIN" --version >/dev/null
}

start() {
  local port=$1 dir=$2
  mkdir -p "$dir/sqlite"
  "$BIN" --handler=sqlite --sqlite-url="file:$dir/sqlite/" --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" --debug-addr=127.0.0.1:0 --telemetry=disable \
    --log-level=warn >"$dir/ferretdb.log" 2>&1 &
  echo $! > "$dir/ferretdb.pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "FerretDB did not start; its log:" >&2; cat "$dir/ferretdb.log" >&2; return 1
}

case "${1:-}" in
  install) install ;;
  start) start "$2" "$3" ;;
  *) echo "usage: $0 install | start PORT DIR" >&2; exit 2 ;;
esac
