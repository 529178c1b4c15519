//! Firmware footprint probe: the smallest image that runs the SDK's gateway primitives
//! (Keccak-256, secp256k1 sign and recover, ChaCha20-Poly1305 seal into a fixed buffer) on a
//! Cortex-M4F with no allocator, so `scripts/firmware-size.sh` can report what they cost in
//! flash (text) and RAM (data + bss).
//!
//! Inputs come through `core::hint::black_box` so the optimiser cannot fold the work away.
#![no_std]
#![no_main]

use core::hint::black_box;
use cpchain_crypto::aead::{seal_in_place, AeadKey, HeaplessBuffer, Nonce};
use cpchain_crypto::{keccak256, SecretKey};


/// The reset entry point. `#[no_mangle]` is needed so the linker finds it; this example is a
/// binary, not part of the SDK's libraries (which forbid unsafe code and export nothing).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut block: heapless::Vec<u8, 4112> = heapless::Vec::new();
    let record = black_box([0x42u8; 64]);
    for _ in 0..black_box(64) {
        if block.extend_from_slice(&record).is_err() {
            break;
        }
    }
    let digest = keccak256(&block);
    let ok = match SecretKey::from_bytes(&black_box([0x11u8; 32])) {
        Ok(device_key) => {
            let sig = device_key.sign_prehash(&digest);
            let signer = sig.recover(&digest).map(|pk| pk.address());
            let key = AeadKey::from_bytes(black_box([7u8; 32]));
            let sealed = seal_in_place(
                &key,
                &Nonce(black_box([0u8; 12])),
                digest.as_bytes(),
                &mut HeaplessBuffer(&mut block),
            );
            signer == Ok(device_key.public_key().address()) && sealed.is_ok()
        }
        Err(_) => false,
    };
    black_box(ok);
    black_box(&block);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
