#!/usr/bin/env bash
# Build the C firmware image for one board and variant:
#   examples/c-firmware/build.sh an386 OUT_DIR [full|gateway]   # MPS2-AN386, Cortex-M4F (thumbv7em-none-eabihf)
#   examples/c-firmware/build.sh an505 OUT_DIR [full|gateway]   # MPS2-AN505, Cortex-M33 (thumbv8m.main-none-eabihf)
# `full` (the default) records, seals, light-verifies and measures, linking cpchain-ffi
# built `no_std` with `--features alloc`; `gateway` records and seals only, linking it
# without `alloc` (no heap at all). It builds the library (profile `firmware`) for the
# board's target, links it with Debian's gcc-arm-none-eabi and
# libnewlib-arm-none-eabi into OUT_DIR/c-firmware-BOARD.elf, and prints
# `flash=<bytes> static_ram=<bytes>` (text + data, data + bss). The linker script's regions
# are the budgets (64 KiB flash, 32 KiB RAM): an image over them fails to link.
set -euo pipefail
board="${1:?board: an386 or an505}"
variant="${3:-full}"
case "$variant" in
  full) features=(--features alloc); defines=(-DCPCHAIN_NO_STD -DCPCHAIN_ALLOC) ;;
  gateway) features=(); defines=(-DCPCHAIN_NO_STD) ;;
  *) echo "build.sh: unknown variant $variant" >&2; exit 2 ;;
esac
out="$(mkdir -p "${2:?output directory}" && cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
case "$board" in
  an386) target=thumbv7em-none-eabihf
         cpu=(-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard) ;;
  an505) target=thumbv8m.main-none-eabihf
         cpu=(-mcpu=cortex-m33 -mfpu=fpv5-sp-d16 -mfloat-abi=hard -DBOARD_AN505) ;;
  *) echo "build.sh: unknown board $board" >&2; exit 2 ;;
esac
# `cargo rustc --crate-type staticlib`, not `cargo build`: the crate also declares `lib` and
# `cdylib`, and cargo runs LTO only when every crate type of the unit can take it, so a plain
# build ships one object per crate (core precompiled, unused code kept) in the archive.
(cd "$root" && cargo rustc --quiet -p cpchain-ffi --no-default-features "${features[@]}" \
  --target "$target" --profile firmware --crate-type staticlib)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
lib="$target_dir/$target/firmware/libcpchain_ffi.a"
[ -f "$lib" ] || { echo "build.sh: $lib was not built" >&2; exit 1; }
elf="$out/c-firmware-$board.elf"
arm-none-eabi-gcc -std=c11 -Os -g -Wall -Wextra -Werror -mthumb "${cpu[@]}" \
  -ffunction-sections -fdata-sections "${defines[@]}" \
  -I "$root/cpchain-ffi/include" -I "$here" \
  "$here/firmware.c" "$here/semihost.c" "$here/startup.c" "$lib" \
  -T "$here/mps2-$board.ld" -nostartfiles -specs=nano.specs -specs=nosys.specs \
  -Wl,--gc-sections -Wl,-Map="$out/c-firmware-$board.map" -lc -lgcc -o "$elf"
read -r text data bss < <(arm-none-eabi-size "$elf" | awk 'NR==2 {print $1, $2, $3}')
echo "flash=$((text + data)) static_ram=$((data + bss))"
