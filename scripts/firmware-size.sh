#!/usr/bin/env bash
# Build the Rust firmware image (examples/firmware-footprint: cortex-m-rt, for the MPS2-AN386
# board, Cortex-M4F, thumbv7em-none-eabihf) and print its sizes as
# `text=<bytes> data=<bytes> bss=<bytes>`. Run it with
#   examples/c-firmware/run.sh an386 examples/firmware-footprint/target/thumbv7em-none-eabihf/release/cpchain-firmware-footprint OUT_DIR
# Needs: rustup target thumbv7em-none-eabihf, arm-none-eabi-size (Debian binutils-arm-none-eabi).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/examples/firmware-footprint"
cargo build --release --locked --quiet
elf="target/thumbv7em-none-eabihf/release/cpchain-firmware-footprint"
size_tool="$(command -v arm-none-eabi-size || command -v llvm-size || true)"
if [ -z "$size_tool" ]; then
  echo "firmware-size: need arm-none-eabi-size (apt-get install binutils-arm-none-eabi)" >&2
  exit 1
fi
"$size_tool" -A "$elf" >/dev/null
read -r text data bss < <("$size_tool" "$elf" | awk 'NR==2 {print $1, $2, $3}')
echo "text=$text data=$data bss=$bss"
