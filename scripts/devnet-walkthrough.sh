#!/usr/bin/env bash
# A walk-through of the host node (issue 14), in under a minute, stopping by itself:
# four validator processes and one proposer RNode on 127.0.0.1, each with its own redb
# database; transfers submitted through the HTTP API; a validator killed with SIGKILL
# and restarted; the stored chains compared block by block at the end.
#
#   cargo build -p cpchain-node && scripts/devnet-walkthrough.sh
#
# CPCHAIN_NODE overrides the binary (default target/debug/cpchain-node).
set -euo pipefail

BIN=${CPCHAIN_NODE:-target/debug/cpchain-node}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/cpchain-walkthrough.XXXXXX")
declare -a PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
field() { grep -o "\"$2\": *[0-9]*" "$DIR/node-$1/status.json" 2>/dev/null | grep -o '[0-9]*$' || echo 0; }
start() {
  "$BIN" run --config "$DIR/node-$1/config.json" --exit-with-parent 2>>"$DIR/node-$1/node.log" &
  PIDS[$1]=$!
}
heads() { for i in 0 1 2 3 4; do printf 'node-%s head %-4s ' "$i" "$(field "$i" head)"; done; echo; }
wait_head() { # node, height, seconds
  local end=$((SECONDS + $3))
  while [ "$(field "$1" head)" -lt "$2" ]; do
    [ $SECONDS -lt $end ] || { echo "node-$1 did not reach height $2"; exit 1; }
    sleep 0.2
  done
}

say "4 validators + 1 proposer RNode, block period 300 ms (keys and configs in $DIR)"
"$BIN" devnet --init-only --validators 4 --proposers 1 --period-ms 300 \
  --impeach-timeout-ms 900 --dir "$DIR" >/dev/null
for i in 0 1 2 3 4; do start "$i"; done
wait_head 0 10 30
heads

say "submit 5 transfers from validator 0's account through its HTTP API"
API=$(grep -o '"api_port": *[0-9]*' "$DIR/node-0/config.json" | grep -o '[0-9]*$')
TO=0x00000000000000000000000000000000000000aa
for n in 0 1 2 3 4; do
  "$BIN" tx send --key "$DIR/node-0/key" --to "$TO" --amount 1000 --nonce "$n" --api-port "$API"
done
end=$((SECONDS + 20))
while [ "$(field 0 committed_txs)" -lt 5 ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
echo "committed: $(field 0 committed_txs) transactions; now replay nonce 0:"
"$BIN" tx send --key "$DIR/node-0/key" --to "$TO" --amount 1000 --nonce 0 --api-port "$API" \
  || echo "(the replay is refused, as it should be)"

say "SIGKILL validator 2, let the others decide, restart it"
kill -9 "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null || true
H=$(field 0 head)
wait_head 0 $((H + 10)) 20
heads
start 2
wait_head 2 $(($(field 0 head))) 30
heads
say "the proposer RNode (node-4, not a validator) deposits, campaigns, is elected, proposes"
end=$((SECONDS + 40))
while [ "$(field 4 proposed)" -lt 3 ] && [ $SECONDS -lt $end ]; do sleep 0.5; done
heads
echo "proposer RNode (node-4): proposed $(field 4 proposed) blocks"

say "stop every node (SIGTERM) and compare the stored chains"
for i in 0 1 2 3 4; do kill "${PIDS[$i]}" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
for i in 0 1 2 3 4; do "$BIN" chain --config "$DIR/node-$i/config.json" >"$DIR/chain-$i"; done
N=$(for i in 0 1 2 3 4; do wc -l <"$DIR/chain-$i"; done | sort -n | head -1)
for i in 1 2 3 4; do
  if ! cmp -s <(head -n "$N" "$DIR/chain-0") <(head -n "$N" "$DIR/chain-$i"); then
    echo "node-$i's chain differs from node-0's"; exit 1
  fi
done
echo "the 5 chains agree on all $N common heights ($(grep -c impeach "$DIR/chain-0" || true) impeach blocks)"
