#!/usr/bin/env bash
# Regenerate include/cpchain.h with the pinned cbindgen and fail on any difference from the
# committed header. With --write, update the committed header instead.
#
# The header covers both builds: cbindgen reads every item of the source whatever the
# features, and cbindgen.toml maps `feature = "pre"` to CPCHAIN_PRE, so the sharing API
# (built only with `--features pre`) is declared under `#if defined(CPCHAIN_PRE)`. This
# script also checks that the guarded block is there, and that it is guarded: the sharing
# functions appear when the header is preprocessed with -DCPCHAIN_PRE and not without.
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

# The sharing API is in the header, and only under CPCHAIN_PRE.
if ! grep -q '^#if defined(CPCHAIN_PRE)$' "$fresh"; then
  echo "check-header.sh: no CPCHAIN_PRE block in the generated header (cbindgen.toml [defines])" >&2
  exit 1
fi
if command -v cc >/dev/null 2>&1; then
  with_pre="$(cc -E -P -DCPCHAIN_PRE -x c "$fresh" | grep -c 'cpchain_share_[a-z_]*(' || true)"
  without="$(cc -E -P -x c "$fresh" | grep -c 'cpchain_share_[a-z_]*(' || true)"
  if [ "$with_pre" -eq 0 ] || [ "$without" -ne 0 ]; then
    echo "check-header.sh: sharing functions must be declared under CPCHAIN_PRE only" \
      "($with_pre with it, $without without)" >&2
    exit 1
  fi
fi

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
