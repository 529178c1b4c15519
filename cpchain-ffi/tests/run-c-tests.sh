#!/usr/bin/env bash
# Build cpchain-ffi and run its C and C++ tests:
#   1. the header alone as C11 and as C++17 with -Wall -Wextra -Werror -pedantic (and as C99
#      with -Wconversion; with clang -Weverything too when clang is installed);
#   2. the C tests (tests/c/test_cpchain.c) under AddressSanitizer + UBSan, static library;
#   3. the same tests under valgrind --leak-check=full --error-exitcode=1, static library;
#      likewise the LBFT validator on a DPoR schedule and fault evidence
#      (tests/c/test_lbft_dpor.c), under ASan + UBSan and under valgrind;
#   4. the exported symbols of the shared library (cdylib) against the header, and the same
#      tests against it;
#   5. the C++17 test program (tests/c/header_cpp17.cpp), static library;
#   6. examples/c-gateway (static buffers only) under ASan, under valgrind, and once with its
#      malloc counter, which fails if the writer phase allocates;
#   7. the sharing API (feature `pre`, GPL-3.0): the header with -DCPCHAIN_PRE as C11 and
#      C++17, the sharing tests (tests/c/test_share.c) under ASan + UBSan and under valgrind
#      against a library built with `--features pre`, that library's exports against the
#      header's CPCHAIN_PRE declarations, and examples/c-gateway with its share grant;
#   8. with CPCHAIN_FFI_PANIC_ABORT=1, the C tests against a panic = "abort" build.
# Installs nothing: it fails clearly when gcc, g++ or valgrind is missing (.ci/run installs
# them). Prints "N passed, N failed" as its last line; exits non-zero on any failure.
#
# Environment: CARGO_TARGET_DIR is honoured; CPCHAIN_FFI_PROFILE=release tests a release
# build (default: debug, which keeps debug assertions on).
set -euo pipefail

ffi_dir="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$ffi_dir/.." && pwd)"
profile="${CPCHAIN_FFI_PROFILE:-debug}"

missing=()
for tool in gcc g++ valgrind nm; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "run-c-tests.sh: missing tools: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})" >&2
  exit 2
fi

cargo_flags=(-p cpchain-ffi)
[ "$profile" = release ] && cargo_flags+=(--release)

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
lib_dir="$target_dir/$profile"
static_lib="$lib_dir/libcpchain_ffi.a"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The `pre` build first: both builds write the same library paths, so its libraries are
# copied aside before the default build replaces them (the dependencies of both stay
# cached side by side; switching relinks cpchain-ffi only).
(cd "$root" && cargo build "${cargo_flags[@]}" --features pre)
pre_dir="$work/pre-lib"
mkdir -p "$pre_dir"
cp "$lib_dir/libcpchain_ffi.a" "$lib_dir/libcpchain_ffi.so" "$pre_dir/"
pre_static="$pre_dir/libcpchain_ffi.a"

(cd "$root" && cargo build "${cargo_flags[@]}")
[ -f "$static_lib" ] || { echo "run-c-tests.sh: $static_lib not built" >&2; exit 1; }
[ -f "$lib_dir/libcpchain_ffi.so" ] || { echo "run-c-tests.sh: libcpchain_ffi.so not built" >&2; exit 1; }

# What a Rust staticlib needs from the system on Linux (rustc --print native-static-libs).
sys_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -pthread)
warn=(-Wall -Wextra -Werror -pedantic)
inc=(-I "$ffi_dir/include")
src="$ffi_dir/tests/c"

total_passed=0
total_failed=0
stage_failures=0

# Run one test binary; add the counts of its closing "N passed, N failed" line.
run_counted() {
  local name="$1"
  shift
  local log="$work/$name.log"
  echo "--- $name"
  local status=0
  "$@" >"$log" 2>&1 || status=$?
  cat "$log"
  local line p f
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)"
  if [ -z "$line" ]; then
    echo "$name: no result line (exit status $status)" >&2
    total_failed=$((total_failed + 1))
    stage_failures=$((stage_failures + 1))
    return
  fi
  p="${line%% passed*}"
  f="${line#*, }"
  f="${f%% failed}"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    # The tests passed but the tool (ASan, valgrind) found leaks or memory errors.
    echo "$name: exit status $status (sanitizer or valgrind errors)" >&2
    total_failed=$((total_failed + 1))
    stage_failures=$((stage_failures + 1))
  fi
}

# 1. The header alone.
echo "--- header: C11 and C++17, -Wall -Wextra -Werror -pedantic"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -fsyntax-only "$src/header_c11.c"
g++ -std=c++17 "${warn[@]}" "${inc[@]}" -fsyntax-only "$src/header_cpp17.cpp"
gcc -std=c99 "${warn[@]}" -Wconversion -Wsign-conversion -Wstrict-prototypes "${inc[@]}" \
  -fsyntax-only -x c - <<<'#include "cpchain.h"'
if command -v clang >/dev/null 2>&1; then
  # Optional: clang's strictest set, when clang is there (the CI image may not have it).
  clang -std=c11 -Weverything -Wno-padded -Werror "${inc[@]}" -fsyntax-only "$src/header_c11.c"
  clang++ -std=c++17 "${warn[@]}" "${inc[@]}" -fsyntax-only "$src/header_cpp17.cpp"
fi
echo "header compiles"

# 2. AddressSanitizer (with LeakSanitizer) and UBSan.
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$src/test_cpchain.c" "$static_lib" "${sys_libs[@]}" -o "$work/test_asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1 \
  run_counted "asan" "$work/test_asan"

# 3. valgrind.
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O0 \
  "$src/test_cpchain.c" "$static_lib" "${sys_libs[@]}" -o "$work/test_valgrind"
run_counted "valgrind" valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 "$work/test_valgrind"

# 2b, 3b. The validator on a DPoR schedule across term boundaries, and fault evidence.
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$src/test_lbft_dpor.c" "$static_lib" "${sys_libs[@]}" -o "$work/lbft_dpor_asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1 \
  run_counted "lbft-dpor: asan" "$work/lbft_dpor_asan"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O0 \
  "$src/test_lbft_dpor.c" "$static_lib" "${sys_libs[@]}" -o "$work/lbft_dpor_valgrind"
run_counted "lbft-dpor: valgrind" valgrind --quiet --leak-check=full \
  --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
  --error-exitcode=1 "$work/lbft_dpor_valgrind"

# 4. The shared library: it exports exactly the functions the header declares, nothing else
#    (the header preprocessed as the C compiler sees it: without CPCHAIN_PRE for the default
#    library, with it for the `pre` one).
check_exports() {
  local name="$1" so="$2"
  shift 2
  echo "--- shared-library exports ($name)"
  nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$work/exported-$name"
  gcc -E -P "$@" -x c "$ffi_dir/include/cpchain.h" | grep -oE '\bcpchain_[a-z0-9_]+\(' \
    | tr -d '(' | sort -u >"$work/declared-$name"
  if ! diff -u "$work/declared-$name" "$work/exported-$name"; then
    echo "$name: shared library exports differ from the header's declarations" >&2
    total_failed=$((total_failed + 1))
  else
    echo "$(wc -l <"$work/declared-$name") functions declared and exported"
    total_passed=$((total_passed + 1))
  fi
}
check_exports default "$lib_dir/libcpchain_ffi.so"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g "$src/test_cpchain.c" \
  -L "$lib_dir" -Wl,-rpath,"$lib_dir" -lcpchain_ffi -pthread -o "$work/test_shared"
run_counted "shared-library" "$work/test_shared"

# 5. C++17.
g++ -std=c++17 "${warn[@]}" "${inc[@]}" -g -fsanitize=address,undefined \
  "$src/header_cpp17.cpp" "$static_lib" "${sys_libs[@]}" -o "$work/test_cpp17"
run_counted "c++17" "$work/test_cpp17"

# The example of the docs and README runs clean under ASan too.
echo "--- example"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -fsanitize=address,undefined \
  "$src/example.c" "$static_lib" "${sys_libs[@]}" -o "$work/example"
if "$work/example"; then
  total_passed=$((total_passed + 1))
else
  echo "example failed" >&2
  total_failed=$((total_failed + 1))
fi

# 6. The firmware-style gateway example: ASan, valgrind, and the no-heap check.
gateway_src="$root/examples/c-gateway/gateway.c"
run_example() {
  local name="$1"
  shift
  echo "--- $name"
  if "$@"; then
    total_passed=$((total_passed + 1))
  else
    echo "$name failed" >&2
    total_failed=$((total_failed + 1))
  fi
}
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$gateway_src" "$static_lib" "${sys_libs[@]}" -o "$work/gateway_asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 run_example "c-gateway (asan)" "$work/gateway_asan"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O0 "$gateway_src" "$static_lib" "${sys_libs[@]}" \
  -o "$work/gateway_valgrind"
run_example "c-gateway (valgrind)" valgrind --quiet --leak-check=full \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 "$work/gateway_valgrind"
gcc -std=c11 "${warn[@]}" "${inc[@]}" -g -O0 -DGATEWAY_COUNT_HEAP "$gateway_src" "$static_lib" \
  "${sys_libs[@]}" -o "$work/gateway_heap"
run_example "c-gateway (no heap in the writer phase)" "$work/gateway_heap"

# 7. Sharing (feature `pre`): header, tests under ASan and valgrind, exports, gateway grant.
echo "--- header with CPCHAIN_PRE: C11 and C++17"
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -fsyntax-only "$src/header_c11.c"
g++ -std=c++17 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -fsyntax-only "$src/header_cpp17.cpp"
gcc -std=c99 "${warn[@]}" -Wconversion -Wsign-conversion -Wstrict-prototypes -DCPCHAIN_PRE \
  "${inc[@]}" -fsyntax-only -x c - <<<'#include "cpchain.h"'
echo "header compiles with CPCHAIN_PRE"
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$src/test_share.c" "$pre_static" "${sys_libs[@]}" -o "$work/share_asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1 \
  run_counted "pre: asan" "$work/share_asan"
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -g -O0 \
  "$src/test_share.c" "$pre_static" "${sys_libs[@]}" -o "$work/share_valgrind"
# CPCHAIN_C_TEST_QUICK: the owner-cap test fills the 1,024-grant table under ASan only
# (1,025 grants take minutes under valgrind).
run_counted "pre: valgrind" env CPCHAIN_C_TEST_QUICK=1 valgrind --quiet --leak-check=full \
  --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
  --error-exitcode=1 "$work/share_valgrind"
check_exports pre "$pre_dir/libcpchain_ffi.so" -DCPCHAIN_PRE
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  "$gateway_src" "$pre_static" "${sys_libs[@]}" -o "$work/gateway_pre_asan"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 run_example "pre: c-gateway with a share grant (asan)" \
  "$work/gateway_pre_asan"
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -g -O0 "$gateway_src" "$pre_static" \
  "${sys_libs[@]}" -o "$work/gateway_pre_valgrind"
run_example "pre: c-gateway with a share grant (valgrind)" valgrind --quiet --leak-check=full \
  --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 "$work/gateway_pre_valgrind"
gcc -std=c11 "${warn[@]}" -DCPCHAIN_PRE "${inc[@]}" -g -O0 -DGATEWAY_COUNT_HEAP "$gateway_src" \
  "$pre_static" "${sys_libs[@]}" -o "$work/gateway_pre_heap"
run_example "pre: c-gateway (no heap in the writer phase)" "$work/gateway_pre_heap"

# 8. Opt-in (CPCHAIN_FFI_PANIC_ABORT=1): the library built with panic = "abort" passes the
#    same tests under valgrind. A separate target directory keeps the normal build intact.
if [ "${CPCHAIN_FFI_PANIC_ABORT:-0}" = 1 ]; then
  abort_target="$target_dir/ffi-panic-abort"
  (cd "$root" && CARGO_TARGET_DIR="$abort_target" RUSTFLAGS="-C panic=abort" \
    cargo build -p cpchain-ffi --lib)
  gcc -std=c11 "${warn[@]}" "${inc[@]}" -g "$src/test_cpchain.c" \
    "$abort_target/debug/libcpchain_ffi.a" "${sys_libs[@]}" -o "$work/test_abort"
  run_counted "panic-abort+valgrind" valgrind --quiet --leak-check=full --error-exitcode=1 \
    "$work/test_abort"
fi

echo "C tests: $stage_failures stage(s) with tool errors"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
