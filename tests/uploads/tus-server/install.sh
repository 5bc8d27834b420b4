#!/bin/sh
# Installs the third-party tus server the uploads tests use as an upload target:
# @tus/server with @tus/file-store, pinned, from npm, into the folder given (default
# build/npm-tools/tus). Needs node >= 20.19 and npm (Debian: apt-get install nodejs npm).
# Idempotent: a folder that already has both packages is left as it is.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-"$here/../../../build/npm-tools/tus"}
mkdir -p "$dest"
# The server script sits beside node_modules: ES modules resolve packages from their own folder.
cp "$here/server.mjs" "$dest/server.mjs"
if [ -f "$dest/node_modules/@tus/server/package.json" ] && [ -f "$dest/node_modules/@tus/file-store/package.json" ]; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install.sh: npm is not installed (apt-get install nodejs npm)" >&2; exit 2; }
cp "$here/package.json" "$dest/package.json"
cd "$dest"
npm install --no-audit --no-fund --loglevel=error >&2
