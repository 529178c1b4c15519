#!/usr/bin/env bash
# The firmware builds of cpchain-ffi against the header: builds the `no_std` static library
# for thumbv7em-none-eabihf twice (`--no-default-features`, and with `--features alloc`;
# profile `firmware`) and checks that each defines exactly the `cpchain_*` functions that
# include/cpchain.h declares for it (preprocessed with -DCPCHAIN_NO_STD, and with
# -DCPCHAIN_ALLOC too), and that it leaves to the firmware exactly the hooks the header
# declares (`cpchain_hook_*`: the panic hook, plus the allocation hooks with `alloc`).
# The host build's exports are checked by run-c-tests.sh. Needs arm-none-eabi-readelf (Debian
# binutils-arm-none-eabi) for arm-none-eabi-readelf, and gcc. Prints "N passed, N failed" last.
set -euo pipefail
ffi_dir="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$ffi_dir/.." && pwd)"
target=thumbv7em-none-eabihf
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

check() {
  local name="$1" features="$2"
  shift 2
  echo "--- $name: cargo rustc -p cpchain-ffi --no-default-features $features --target $target --crate-type staticlib"
  # The library as examples/c-firmware/build.sh links it: `--crate-type staticlib` alone, so
  # that cargo runs LTO (it does not for a unit that is also an rlib).
  # shellcheck disable=SC2086
  (cd "$root" && cargo rustc --quiet -p cpchain-ffi --no-default-features $features \
    --target "$target" --profile firmware --crate-type staticlib)
  local lib="$target_dir/$target/firmware/libcpchain_ffi.a"
  # readelf, not nm: binutils 2.40's nm reports "no symbols" for rustc's LTO object.
  arm-none-eabi-readelf -sW "$lib" >"$work/symbols-$name"
  awk '$4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" {print $8}' "$work/symbols-$name" \
    | { grep -E '^cpchain_' || true; } | sort -u >"$work/defined-$name"
  awk '$5 == "GLOBAL" && $7 == "UND" {print $8}' "$work/symbols-$name" \
    | { grep -E '^cpchain_' || true; } | sort -u >"$work/undefined-$name"
  gcc -E -P "$@" -x c "$ffi_dir/include/cpchain.h" | grep -oE '\bcpchain_[a-z0-9_]+\(' \
    | tr -d '(' | sort -u >"$work/declared-all-$name"
  grep -v '^cpchain_hook_' "$work/declared-all-$name" >"$work/declared-$name" || true
  grep '^cpchain_hook_' "$work/declared-all-$name" >"$work/hooks-$name" || true
  local ok=1
  if ! diff -u "$work/declared-$name" "$work/defined-$name"; then
    echo "$name: the library's functions differ from the header's declarations" >&2
    ok=0
  fi
  if ! diff -u "$work/hooks-$name" "$work/undefined-$name"; then
    echo "$name: the hooks the library needs differ from the header's cpchain_hook_* declarations" >&2
    ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "$name: $(wc -l <"$work/defined-$name") functions declared and defined;" \
      "hooks: $(tr '\n' ' ' <"$work/hooks-$name")"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

check no-std "" -DCPCHAIN_NO_STD
check no-std-alloc "--features alloc" -DCPCHAIN_NO_STD -DCPCHAIN_ALLOC
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
