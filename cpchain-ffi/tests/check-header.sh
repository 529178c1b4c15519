#!/usr/bin/env bash
# Regenerate include/cpchain.h with the pinned cbindgen and fail on any difference from the
# committed header. With --write, update the committed header instead.
# Installs nothing; install the pinned version with:
#   cargo install cbindgen --version 0.29.4 --locked
set -euo pipefail

CBINDGEN_VERSION="0.29.4"
ffi_dir="$(cd "$(dirname "$0")/.." && pwd)"
header="$ffi_dir/include/cpchain.h"

if ! command -v cbindgen >/dev/null 2>&1; then
  echo "check-header.sh: cbindgen not found; install it with:" >&2
  echo "  cargo install cbindgen --version $CBINDGEN_VERSION --locked" >&2
  exit 2
fi
have="$(cbindgen --version | awk '{print $2}')"
if [ "$have" != "$CBINDGEN_VERSION" ]; then
  echo "check-header.sh: cbindgen $have found, $CBINDGEN_VERSION required (the header is pinned to it):" >&2
  echo "  cargo install cbindgen --version $CBINDGEN_VERSION --locked --force" >&2
  exit 2
fi

fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
(cd "$ffi_dir" && cbindgen --quiet --config cbindgen.toml --crate cpchain-ffi --output "$fresh" .)

if [ "${1:-}" = "--write" ]; then
  cp "$fresh" "$header"
  echo "wrote $header"
  exit 0
fi
if ! diff -u "$header" "$fresh"; then
  echo "check-header.sh: include/cpchain.h is out of date with the Rust source;" >&2
  echo "  run cpchain-ffi/tests/check-header.sh --write and commit the result" >&2
  exit 1
fi
echo "include/cpchain.h is up to date (cbindgen $CBINDGEN_VERSION)"
