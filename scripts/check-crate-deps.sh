#!/usr/bin/env bash
# The crate layering of docs/ARCHITECTURE.md, checked on Cargo's own dependency graph
# (issue 13 item 9):
#
#   cpchain-core  <-  cpchain-crypto  <-  { cpchain-consensus, cpchain-storage }
#
# * each of the four `no_std` crates may depend (normal, build or dev, any target, all
#   features, transitively) only on the workspace crates below it: never consensus <->
#   storage, never on cpchain-sim, cpchain-node, cpchain-ffi or the examples;
# * cpchain-ffi (shipped to C and firmware) never on cpchain-sim (which carries
#   insecure-test-crypto), cpchain-node or the examples; cpchain-sim and cpchain-node never
#   on cpchain-ffi, and neither on the other.
# A crate not in the workspace (yet) is reported and skipped.
#
# Prints one line per crate checked; exits 1 on the first crate with a dependency it must
# not have, naming it. Run from anywhere: scripts/check-crate-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The workspace crates `cargo tree` reaches from $1 (itself excluded), one per line.
workspace_deps() {
  cargo tree -p "$1" -e normal,build,dev --all-features --target all \
    --prefix none --format '{p}' \
    | awk '$1 ~ /^cpchain-/ && $1 != "'"$1"'" { print $1 }' | sort -u
}

fail=0
# crate: the workspace crates it may depend on
check_allowed() {
  local crate="$1"; shift
  local deps bad=()
  deps="$(workspace_deps "$crate")"
  for d in $deps; do
    local ok=0
    for a in "$@"; do [ "$d" = "$a" ] && ok=1; done
    [ "$ok" = 1 ] || bad+=("$d")
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "$crate depends on ${bad[*]} (allowed: ${*:-none})" >&2
    fail=1
  else
    echo "$crate: depends on ${deps:-no workspace crate}" | tr '\n' ' '; echo "(allowed: ${*:-none})"
  fi
}
# crate: the workspace crates it must not depend on
check_denied() {
  local crate="$1"; shift
  local deps bad=()
  if ! cargo pkgid -p "$crate" >/dev/null 2>&1; then
    echo "$crate: not in the workspace, skipped"
    return
  fi
  deps="$(workspace_deps "$crate")"
  for d in $deps; do
    for x in "$@"; do [ "$d" = "$x" ] && bad+=("$d"); done
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "$crate depends on ${bad[*]}, which it must not" >&2
    fail=1
  else
    echo "$crate: none of $*"
  fi
}

check_allowed cpchain-core
check_allowed cpchain-crypto cpchain-core
check_allowed cpchain-consensus cpchain-core cpchain-crypto
check_allowed cpchain-storage cpchain-core cpchain-crypto
check_denied cpchain-ffi cpchain-sim cpchain-node cpchain-examples
check_denied cpchain-sim cpchain-ffi cpchain-node
check_denied cpchain-node cpchain-ffi cpchain-sim

exit "$fail"
