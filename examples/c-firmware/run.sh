#!/usr/bin/env bash
# Run a firmware image under QEMU with semihosting and instruction counting:
#   examples/c-firmware/run.sh BOARD ELF OUT_DIR       (BOARD: an386 or an505)
# The image writes OUT_DIR/cpchain-firmware.bin (semihosting opens files relative to QEMU's
# working directory) and its console to OUT_DIR/console.txt; the exit status is the
# device's (0 = every step passed). `-icount shift=0` makes QEMU's virtual clock advance
# exactly 1 ns per guest instruction, which the firmware reads through the board's 25 MHz
# timer: its `insns=` figures are guest instructions (to +-40). Killed after
# FIRMWARE_TIMEOUT seconds (default 300).
set -euo pipefail
board="${1:?board}"
elf="$(cd "$(dirname "${2:?elf}")" && pwd)/$(basename "$2")"
out="$(mkdir -p "${3:?output directory}" && cd "$3" && pwd)"
rm -f "$out/cpchain-firmware.bin"
status=0
(cd "$out" && timeout "${FIRMWARE_TIMEOUT:-300}" qemu-system-arm -M "mps2-$board" \
  -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=0 \
  -kernel "$elf") >"$out/console.txt" 2>&1 || status=$?
cat "$out/console.txt"
exit "$status"
