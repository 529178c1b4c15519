//! Firmware footprint probe: the smallest image that runs the SDK's gateway path on a
//! Cortex-M4F with no allocator, so `scripts/firmware-size.sh` can report what it costs in
//! flash (text) and RAM (data + bss).
//!
//! Two parts:
//! * the primitives (Keccak-256, secp256k1 sign and recover, ChaCha20-Poly1305 seal into a
//!   fixed buffer);
//! * the data-chain gateway (§2.5.1): a `cpchain_storage::Writer` with a 4 KiB block buffer
//!   takes 64-byte sensor records, seals a block every period T under the interval key
//!   (HKDF-Keccak), signs it with the device key, emits anchors, and encodes each output into
//!   a static transmit buffer, as a gateway would before handing it to its radio.
//!
//! The writer and the transmit buffer live in statics so their RAM shows up in `bss`. Stack
//! use is not in the figures; no block-sized value is ever on the stack (the writer seals in
//! place and lends the sealed block, which is encoded straight into `TX`).
//!
//! Inputs come through `core::hint::black_box` so the optimiser cannot fold the work away.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use cpchain_core::encoding::encode_to_slice;
use cpchain_core::{Duration, Timestamp};
use cpchain_crypto::aead::{seal_in_place, AeadKey, HeaplessBuffer, Nonce};
use cpchain_crypto::{keccak256, SecretKey};
use cpchain_storage::block::BLOCK_OVERHEAD;
use cpchain_storage::{Checkpoint, MasterSecret, Schedule, SessionSalt, StreamId, Writer, WriterOutput};

/// Body capacity of a data block: 4 KiB, the gateway profile of issue 7.
const BLOCK_CAP: usize = 4096;

/// The gateway's writer: two block buffers (open, sealed) and its keys.
static mut WRITER: MaybeUninit<Writer<BLOCK_CAP>> = MaybeUninit::uninit();
/// Where an encoded block or anchor waits for the radio.
static mut TX: [u8; BLOCK_CAP + BLOCK_OVERHEAD] = [0; BLOCK_CAP + BLOCK_OVERHEAD];

/// The reset entry point. `#[no_mangle]` is needed so the linker finds it; this example is a
/// binary, not part of the SDK's libraries (which forbid unsafe code and export nothing).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let ok = primitives() & gateway();
    black_box(ok);
    loop {
        core::hint::spin_loop();
    }
}

fn primitives() -> bool {
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
    black_box(&block);
    ok
}

fn gateway() -> bool {
    let Ok(device) = SecretKey::from_bytes(&black_box([0x11u8; 32])) else {
        return false;
    };
    let Ok(schedule) = Schedule::new(
        Duration::from_secs(black_box(10)),
        Duration::from_mins(1),
        Duration::from_mins(1),
    ) else {
        return false;
    };
    // The session salt's entropy: a hardware RNG's bytes on a real board.
    let salt = SessionSalt::from_entropy(&device.public_key().address(), &black_box([0x5e; 32]));
    let writer = Writer::with_salt(
        StreamId(black_box([0x33u8; 32])),
        schedule,
        device,
        MasterSecret::from_bytes(black_box([0x22u8; 32])),
        Checkpoint::GENESIS,
        salt,
    );
    // SAFETY: the reset handler runs once, single-threaded, with no interrupts enabled; these
    // are the only references ever made to the two statics.
    let (w, tx) = unsafe { ((*addr_of_mut!(WRITER)).write(writer), &mut *addr_of_mut!(TX)) };
    let mut sent = 0usize;
    for i in 0..black_box(1000u64) {
        let now = Timestamp(black_box(i * 250));
        if w.append(now, &black_box([0x42u8; 64])).is_err() {
            return false;
        }
        while let Some(out) = w.poll_output() {
            let bytes = match &out {
                WriterOutput::Block(b) => b.encode_to_slice(tx).map(|b| b.len()),
                WriterOutput::Anchor(a) => encode_to_slice(a, tx).map(|b| b.len()),
            };
            match bytes {
                Ok(n) => sent += black_box(n),
                Err(_) => return false,
            }
        }
        if let Some(deadline) = w.next_deadline() {
            if deadline <= now {
                w.handle_timeout(now);
            }
        }
    }
    black_box(sent) > 0
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
