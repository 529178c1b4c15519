//! The SDK's gateway as a runnable Rust firmware for the Arm MPS2-AN386 board (Cortex-M4F),
//! on cortex-m-rt, run under `qemu-system-arm` with semihosting: the Rust twin of
//! `examples/c-firmware`, so that both languages are proven on the same emulated board.
//!
//! It draws its device-key seed, master secret and stream id from the firmware's entropy
//! source (`Entropy`: the MPS2 has no TRNG, so under QEMU a Keccak DRBG over a fixed seed;
//! a device reads its TRNG there), records a reading every second for 70 s with a
//! `Writer<4096>` in a static (T = 5 s, e = 20 s, u = 10 s), playing the clock and polling
//! every output (its session salt from the same source), and writes its inputs, each writer call, each sealed block and anchor to
//! `cpchain-firmware.bin` over semihosting, in the record format of the C image, which
//! `examples/tests/firmware.rs` replays with the host's `Writer` (byte identity) and verifies
//! against the anchors. It then light-verifies the VALIDATE of
//! `examples/c-firmware/validate_fixture.h` (n = 7), and checks that a copy with one
//! signature byte flipped is refused. The gateway path allocates nothing: the heap (a bump
//! arena, for light verification) counts its calls and the run fails if the gateway made any.
//!
//! Exit status (semihosting): 0 when every step passed, 1 otherwise. `scripts/firmware-size.sh`
//! reports the image's flash and static RAM; `memory.x` holds the budgets (64 KiB flash,
//! 32 KiB RAM), so an image over them does not link.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln, syscall};
use cpchain_consensus::lbft::{
    verify_validate, FixedSchedule, Header, ImpeachQuorum, Validate, ValidatorSet,
};
use cpchain_core::encoding::{decode, encode_to_slice};
use cpchain_core::{keccak256, Address, ChainSpec, Duration, Timestamp};
use cpchain_crypto::{PublicKey, SecretKey};
use cpchain_storage::block::BLOCK_OVERHEAD;
use cpchain_storage::{Checkpoint, MasterSecret, Output, Schedule, SessionSalt, StreamId, Writer};
use rand_core::SeedableRng;

mod fixture {
    include!(concat!(env!("OUT_DIR"), "/fixture.rs"));
}

/// Body capacity of a data block, as the C API's writer.
const BLOCK_CAP: usize = 4096;
const PERIOD_MS: u64 = 5_000;
const INTERVAL_MS: u64 = 20_000;
const UPLOAD_MS: u64 = 10_000;
const START_MS: u64 = 1_700_000_000_000;
const READINGS: u32 = 70;

// Output records: [kind u8][len u32 LE][bytes], as the C image.
const OUT_KEY_SEED: u8 = 1;
const OUT_APPEND: u8 = 2;
const OUT_TIMEOUT: u8 = 3;
const OUT_FLUSH: u8 = 4;
const OUT_BLOCK: u8 = 5;
const OUT_ANCHOR: u8 = 6;
const OUT_LIGHT: u8 = 7;
const OUT_DEVICE: u8 = 8;
const OUT_END: u8 = 9;
const OUT_WRITER: u8 = 10;

/// The writer (two block buffers and its keys) and the transmit buffer, in statics.
static mut WRITER: MaybeUninit<Writer<BLOCK_CAP>> = MaybeUninit::uninit();
static mut TX: [u8; BLOCK_CAP + BLOCK_OVERHEAD] = [0; BLOCK_CAP + BLOCK_OVERHEAD];

// ---- The heap: a bump arena that takes back its last block at once and resets when nothing
// is live. 2.5 KiB: light verification at n = 7 peaks at 2,536 bytes (docs/BENCHMARKS.md). ----

const ARENA: usize = 2560;

#[repr(C, align(8))]
struct Arena {
    bytes: UnsafeCell<[u8; ARENA]>,
    top: Cell<usize>,
    live: Cell<usize>,
    peak: Cell<usize>,
    calls: Cell<u32>,
}

// SAFETY: one core, no interrupt handler allocates: the arena is never used concurrently.
unsafe impl Sync for Arena {}

// SAFETY: hands out disjoint, aligned ranges of the arena, or NULL when it is full.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.calls.set(self.calls.get() + 1);
        let base = self.bytes.get() as usize;
        let at = (base + self.top.get() + layout.align() - 1) & !(layout.align() - 1);
        let end = at - base + layout.size();
        if end > ARENA {
            return core::ptr::null_mut();
        }
        self.top.set(end);
        self.peak.set(self.peak.get().max(end));
        self.live.set(self.live.get() + 1);
        at as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The last block handed out is taken back at once (temporaries freed in reverse
        // order cost no arena); anything else when nothing is live any more.
        let base = self.bytes.get() as usize;
        if ptr as usize + layout.size() == base + self.top.get() {
            self.top.set(ptr as usize - base);
        }
        let live = self.live.get().saturating_sub(1);
        self.live.set(live);
        if live == 0 {
            self.top.set(0);
        }
    }
}

#[global_allocator]
static HEAP: Arena = Arena {
    bytes: UnsafeCell::new([0; ARENA]),
    top: Cell::new(0),
    live: Cell::new(0),
    peak: Cell::new(0),
    calls: Cell::new(0),
};

// ---- Entropy: a TRNG on hardware; under QEMU a Keccak DRBG over a fixed seed. ----

struct Entropy {
    counter: u32,
}

impl Entropy {
    const SEED: [u8; 32] = *b"cpchain rust-firmware qemu seed!";

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(32) {
            let mut input = [0u8; 36];
            input[..32].copy_from_slice(&Self::SEED);
            input[32..].copy_from_slice(&self.counter.to_le_bytes());
            self.counter += 1;
            let block = keccak256(&input);
            chunk.copy_from_slice(&block.as_bytes()[..chunk.len()]);
        }
    }
}

// ---- Semihosting output file. ----

struct OutFile {
    fd: usize,
    failed: bool,
}

impl OutFile {
    fn open() -> Option<OutFile> {
        let name = b"cpchain-firmware.bin\0";
        // SAFETY: SYS_OPEN with a NUL-terminated name, mode 5 ("wb") and its length.
        let fd = unsafe { syscall!(OPEN, name.as_ptr(), 5usize, name.len() - 1) };
        (fd != usize::MAX).then_some(OutFile { fd, failed: false })
    }

    fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // SAFETY: SYS_WRITE of `bytes`, valid for the call; returns the bytes not written.
        let left = unsafe { syscall!(WRITE, self.fd, bytes.as_ptr(), bytes.len()) };
        self.failed |= left != 0;
    }

    fn emit2(&mut self, kind: u8, a: &[u8], b: &[u8]) {
        let len = (a.len() + b.len()) as u32;
        let mut head = [kind, 0, 0, 0, 0];
        head[1..].copy_from_slice(&len.to_le_bytes());
        self.write(&head);
        self.write(a);
        self.write(b);
    }

    fn emit(&mut self, kind: u8, a: &[u8]) {
        self.emit2(kind, a, &[]);
    }

    fn close(&self) {
        // SAFETY: SYS_CLOSE of the handle SYS_OPEN gave.
        unsafe { syscall!(CLOSE, self.fd) };
    }
}

fn drain(w: &mut Writer<BLOCK_CAP>, tx: &mut [u8], out: &mut OutFile) -> Result<u32, &'static str> {
    let mut blocks = 0;
    while let Some(o) = w.poll_output() {
        match &o {
            Output::Block(b) => {
                let bytes = b.encode_to_slice(tx).map_err(|_| "encode block")?;
                out.emit(OUT_BLOCK, bytes);
                blocks += 1;
            }
            Output::Anchor(a) => {
                let bytes = encode_to_slice(a, tx).map_err(|_| "encode anchor")?;
                out.emit(OUT_ANCHOR, bytes);
            }
        }
    }
    Ok(blocks)
}

fn gateway(rng: &mut Entropy, out: &mut OutFile) -> Result<(), &'static str> {
    let mut seed = [0u8; 32];
    rng.fill(&mut seed);
    let device = SecretKey::random(&mut rand_chacha::ChaCha20Rng::from_seed(seed));
    out.emit(OUT_KEY_SEED, &seed);
    out.emit(OUT_DEVICE, &device.public_key().address().0);
    let mut master = [0u8; 32];
    let mut stream = [0u8; 32];
    rng.fill(&mut master);
    rng.fill(&mut stream);
    // Fresh for every writer session: it salts the session's nonces (no (key, nonce) reuse
    // even if the device restarts its chain from genesis).
    let mut session = [0u8; 32];
    rng.fill(&mut session);
    let mut inputs = [0u8; 120];
    inputs[..32].copy_from_slice(&master);
    inputs[32..64].copy_from_slice(&stream);
    inputs[64..72].copy_from_slice(&PERIOD_MS.to_le_bytes());
    inputs[72..80].copy_from_slice(&INTERVAL_MS.to_le_bytes());
    inputs[80..88].copy_from_slice(&UPLOAD_MS.to_le_bytes());
    inputs[88..].copy_from_slice(&session);
    out.emit(OUT_WRITER, &inputs);
    let schedule = Schedule::new(
        Duration::from_millis(PERIOD_MS),
        Duration::from_millis(INTERVAL_MS),
        Duration::from_millis(UPLOAD_MS),
    )
    .map_err(|_| "schedule")?;
    let salt = SessionSalt::from_entropy(&device.public_key().address(), &session);
    // SAFETY: the entry runs once, single-threaded, with no interrupt handler touching these
    // statics; these are the only references ever made to them.
    let (slot, tx) = unsafe { (&mut *addr_of_mut!(WRITER), &mut *addr_of_mut!(TX)) };
    // Built straight in the static (`with_salt` is always inlined): no writer-sized value on
    // the stack.
    let w = slot.write(Writer::with_salt(
        StreamId(stream),
        schedule,
        device,
        MasterSecret::from_bytes(master),
        Checkpoint::GENESIS,
        salt,
    ));
    let mut blocks = 0;
    for i in 0..READINGS {
        let now = START_MS + u64::from(i) * 1000 + 137;
        while let Some(deadline) = w.next_deadline().filter(|d| d.as_millis() <= now) {
            out.emit(OUT_TIMEOUT, &deadline.as_millis().to_le_bytes());
            w.handle_timeout(deadline);
            blocks += drain(w, tx, out)?;
        }
        let mut reading = [0u8; 24];
        reading[..4].copy_from_slice(&i.to_le_bytes());
        reading[4..8].copy_from_slice(&(2150 + (i % 13) * 7).to_le_bytes());
        reading[8..12].copy_from_slice(&(4000 + i * 3).to_le_bytes());
        rng.fill(&mut reading[12..]);
        out.emit2(OUT_APPEND, &now.to_le_bytes(), &reading);
        w.append(Timestamp(now), &reading).map_err(|_| "append")?;
        blocks += drain(w, tx, out)?;
    }
    out.emit(OUT_FLUSH, &[]);
    w.flush(w.checkpoint().last_time);
    blocks += drain(w, tx, out)?;
    hprintln!("rust-firmware: {} blocks sealed", blocks);
    if blocks == 0 {
        return Err("no block");
    }
    Ok(())
}

fn light(out: &mut OutFile) -> Result<(), &'static str> {
    let spec = ChainSpec::mainnet();
    let parent = Header::genesis(&spec, Timestamp(fixture::GENESIS_MS));
    let keys = fixture::VALIDATORS
        .chunks(33)
        .map(|k| PublicKey::from_sec1_bytes(k).map_err(|_| "validator key"))
        .collect::<Result<Vec<_>, _>>()?;
    let set = ValidatorSet::new(&keys).map_err(|_| "validator set")?;
    let schedule = FixedSchedule::new(
        fixture::PROPOSERS
            .chunks(20)
            .map(|a| Address(a.try_into().unwrap_or([0; 20])))
            .collect(),
    );
    let check = |bytes: &[u8]| -> Result<usize, ()> {
        let v: Validate = decode(bytes).map_err(|_| ())?;
        verify_validate(
            &spec,
            &set,
            ImpeachQuorum::TwoFPlusOne,
            &schedule,
            &v,
            &parent,
        )
        .map_err(|_| ())
    };
    let good = check(&fixture::VALIDATE);
    let mut bad = fixture::VALIDATE;
    bad[fixture::TAMPER_AT as usize] ^= 1;
    let refused = check(&bad).is_err();
    drop((keys, set, schedule));
    let mut rec = [0u8; 16];
    rec[..4].copy_from_slice(&u32::from(good.is_err()).to_le_bytes());
    rec[4..8].copy_from_slice(&(good.unwrap_or(0) as u32).to_le_bytes());
    rec[8..12].copy_from_slice(&u32::from(refused).to_le_bytes());
    rec[12..].copy_from_slice(&(HEAP.peak.get() as u32).to_le_bytes());
    out.emit(OUT_LIGHT, &rec);
    hprintln!(
        "rust-firmware: light verification heap peak {} bytes",
        HEAP.peak.get()
    );
    match (good, refused) {
        (Ok(8), true) => Ok(()),
        (Ok(_), true) => Err("signature count"),
        (Err(()), _) => Err("the VALIDATE was refused"),
        (_, false) => Err("a tampered VALIDATE was accepted"),
    }
}

// ---- Peak stack: paint the free stack at start, find the deepest word touched at the end. ----

extern "C" {
    /// End of .bss (cortex-m-rt's link.x): the stack may grow down to here.
    static mut __ebss: u32;
}

const PAINT: u32 = 0xC5C5_C5C5;

fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer; no memory is touched.
    unsafe { core::arch::asm!("mov {}, sp", out(reg) sp) };
    sp
}

fn paint_stack() {
    let mut p = addr_of_mut!(__ebss);
    let limit = sp() - 256;
    while (p as usize) < limit {
        // SAFETY: between the end of .bss and below the live stack: memory no one uses yet.
        unsafe {
            p.write_volatile(PAINT);
            p = p.add(1);
        }
    }
}

fn stack_peak() -> usize {
    let mut p = addr_of_mut!(__ebss);
    // SAFETY: reads words between the end of .bss and the stack, all initialised by paint_stack.
    unsafe {
        while p.read_volatile() == PAINT {
            p = p.add(1);
        }
    }
    // cortex-m-rt's stack starts at the end of RAM (memory.x).
    (0x2000_0000usize + 40 * 1024) - p as usize
}

fn run() -> Result<(), &'static str> {
    let mut out = OutFile::open().ok_or("cannot open cpchain-firmware.bin")?;
    let mut rng = Entropy { counter: 0 };
    let mut result = gateway(&mut rng, &mut out);
    if result.is_ok() && HEAP.calls.get() != 0 {
        result = Err("the gateway path allocated");
    }
    if result.is_ok() {
        result = light(&mut out);
    }
    if result.is_ok() && HEAP.live.get() != 0 {
        result = Err("light verification left memory allocated");
    }
    let status: u32 = u32::from(result.is_err());
    out.emit(OUT_END, &status.to_le_bytes());
    out.close();
    if result.is_ok() && out.failed {
        result = Err("semihosting write");
    }
    result
}

#[entry]
fn main() -> ! {
    paint_stack();
    let result = run();
    hprintln!("stack peak (whole run) {} bytes", stack_peak());
    match result {
        Ok(()) => {
            hprintln!("rust-firmware: OK");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(what) => {
            hprintln!("rust-firmware: FAILED: {}", what);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {
        core::hint::spin_loop();
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    hprintln!("rust-firmware: hard fault");
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if let Some(l) = info.location() {
        hprintln!("rust-firmware: panic at {}:{}", l.file(), l.line());
    }
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
