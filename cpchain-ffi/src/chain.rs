//! Data chains (white paper §2.2.1): the gateway's writer and the host's reader.
//!
//! # Writer (the gateway path, no heap)
//!
//! `cpchain_chain_writer` wraps the SDK's sans-IO `Writer` with a block body capacity of
//! `CPCHAIN_CHAIN_BLOCK_CAP` bytes. Firmware places it in a `cpchain_chain_writer_storage`
//! of its own (`cpchain_chain_writer_new_in`); hosts may let the library box it
//! (`cpchain_chain_writer_new`). Either way the calls allocate nothing:
//!
//! ```text
//!   append(now, record) ─┐
//!   handle_timeout(now) ─┼─► poll(buf) until CPCHAIN_RESULT_NO_OUTPUT
//!                        │      kind BLOCK : persist the encoded block, then store it
//!                        │      kind ANCHOR: put the encoded anchor on chain
//!   next_deadline() ─────┘   (call handle_timeout then)
//! ```
//!
//! The poll buffer must hold `CPCHAIN_CHAIN_OUTPUT_MAX_LEN` bytes: the writer lends its
//! sealed block only until the next call, so a poll into a smaller buffer could lose it.
//! A smaller buffer is refused with `CPCHAIN_RESULT_INSUFFICIENT_SIZE` before anything is
//! polled, and `*out_len` says the size needed.
//!
//! A writer is a mutable handle: single-threaded (a concurrent call is refused with
//! `CPCHAIN_RESULT_HANDLE_BUSY`), and poisoned by a caught panic. Freeing it wipes the
//! whole handle (device key, master secret, plaintext of the open block).
//!
//! # Reader (hosts; allocates temporarily)
//!
//! `cpchain_chain_verify` checks a run of encoded blocks against encoded anchors (every
//! verdict its own 77xx code); `cpchain_chain_data_key` derives an interval's data key from
//! the master secret; `cpchain_chain_open_block` decrypts one block into a caller buffer as
//! a flat list of records that `cpchain_records_next` walks. These decode into temporary
//! heap buffers, freed before they return: a reader is not a firmware path.

use crate::boundary::{
    ffi_boundary, ffi_boundary_void, handle, input, input_array, overlaps, storage_slot, Exclusive,
    Origin, OutBuf, OutPtr,
};
use crate::{cpchain_result, cpchain_secret_key, FfiResult};
use core::ptr::NonNull;
use cpchain_core::encoding::{self, WireMessage};
use cpchain_core::{Duration, Hash, Timestamp};
use cpchain_storage::{
    Anchor, BlockId, Checkpoint, HeaplessBlock, MasterSecret, Schedule, SessionSalt, StreamId,
    Writer, WriterOutput,
};
use zeroize::{Zeroize, Zeroizing};
// The host-side readers (std builds only).
#[cfg(feature = "std")]
use crate::{boundary::input_items, keys::public_key};
#[cfg(feature = "std")]
use cpchain_crypto::aead::AeadKey;
#[cfg(feature = "std")]
use cpchain_storage::{open_block, verify_chain, ChainVerifier, IntervalKey, NoKeys, VecBlock};

/// Block body capacity of the C writer, in bytes (framed records plus the 16-byte tag).
pub const CPCHAIN_CHAIN_BLOCK_CAP: usize = 4096;
/// Plaintext bytes an empty block holds: a record of `n` bytes needs `n` plus 2 to 20 bytes
/// of framing.
pub const CPCHAIN_CHAIN_PLAINTEXT_CAP: usize = 4080;
/// Largest encoded output of `cpchain_chain_writer_poll` (a block); the poll buffer size.
pub const CPCHAIN_CHAIN_OUTPUT_MAX_LEN: usize = 4358;
/// Largest encoded anchor.
pub const CPCHAIN_CHAIN_ANCHOR_MAX_LEN: usize = 152;
/// Bytes of a stream id.
pub const CPCHAIN_STREAM_ID_LEN: usize = 32;
/// Bytes of an owner's master secret (the root of every interval key of its streams).
pub const CPCHAIN_MASTER_SECRET_LEN: usize = 32;
/// Bytes of fresh entropy a writer session takes (they salt its nonces).
pub const CPCHAIN_SESSION_ENTROPY_LEN: usize = 32;
/// Bytes of a writer session's salt, as a block header carries it.
pub const CPCHAIN_SESSION_SALT_LEN: usize = 16;
/// Bytes of one interval's data key.
pub const CPCHAIN_DATA_KEY_LEN: usize = 32;
/// Bytes of the per-record header `cpchain_chain_open_block` writes: time (8) and length (4).
pub const CPCHAIN_RECORD_HEADER_LEN: usize = 12;

type ChainWriter = Writer<CPCHAIN_CHAIN_BLOCK_CAP>;

const _: () = {
    assert!(ChainWriter::PLAINTEXT_CAP == CPCHAIN_CHAIN_PLAINTEXT_CAP);
    let block = <HeaplessBlock<CPCHAIN_CHAIN_BLOCK_CAP> as WireMessage>::MAX_ENCODED_LEN;
    assert!(block == CPCHAIN_CHAIN_OUTPUT_MAX_LEN);
    assert!(<Anchor as WireMessage>::MAX_ENCODED_LEN == CPCHAIN_CHAIN_ANCHOR_MAX_LEN);
    assert!(CPCHAIN_CHAIN_ANCHOR_MAX_LEN <= CPCHAIN_CHAIN_OUTPUT_MAX_LEN);
};

/// The three clocks of a stream (§2.2.1), in milliseconds: the block period T, the
/// encryption interval e and the upload interval u. e and u must be positive multiples of
/// T (so a block has one key and an anchor never cuts a block); all are aligned to the Unix
/// epoch.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_schedule {
    /// T: every period's records go into one block (or more, if they overflow it).
    pub period_ms: u64,
    /// e: each interval has its own data key, the unit of sharing.
    pub encryption_interval_ms: u64,
    /// u: every upload interval the head is signed into an anchor.
    pub upload_interval_ms: u64,
}

/// A position in a chain: where a writer resumes after a restart (take it from the last
/// block you persisted, with `cpchain_chain_block_get_info`) or where a verifier starts.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_checkpoint {
    /// Index the next block gets (0 for a new chain).
    pub next_index: u64,
    /// Id of the last block (all zero for a new chain).
    pub head: [u8; 32],
    /// Time of the last record in the last block, in ms.
    pub last_time_ms: u64,
}

/// A borrowed byte string: one element of the arrays of encoded blocks and anchors.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_bytes {
    /// Start of the bytes (NULL allowed when `len` is 0).
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

/// What `cpchain_chain_writer_poll` wrote.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cpchain_chain_output_kind {
    /// Nothing (the call returned `CPCHAIN_RESULT_NO_OUTPUT` or an error).
    None = 0,
    /// An encoded sealed block: persist it first (it is the writer's checkpoint), then shard
    /// and store it.
    Block = 1,
    /// An encoded anchor: put it on chain once the blocks it covers are stored.
    Anchor = 2,
}

/// Counters of a writer, for the gateway's telemetry.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_writer_stats {
    /// Records accepted.
    pub records: u64,
    /// Blocks sealed.
    pub blocks: u64,
    /// Blocks sealed early because the next record did not fit.
    pub early_seals: u64,
    /// Anchors emitted.
    pub anchors: u64,
    /// Anchors replaced by a newer one before they were polled.
    pub anchors_superseded: u64,
}

/// The public fields of an encoded block, read without verifying it (verify the chain for
/// that): for naming, indexing and resuming.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_block_info {
    /// The stream.
    pub stream: [u8; 32],
    /// Position in the stream.
    pub index: u64,
    /// Id of the previous block (zero for block 0).
    pub prev: [u8; 32],
    /// This block's id (what the next block links to and anchors commit to).
    pub id: [u8; 32],
    /// Time of the first record, ms.
    pub first_time_ms: u64,
    /// Time of the last record, ms.
    pub last_time_ms: u64,
    /// Encryption interval number: which data key opens the block.
    pub interval: u64,
    /// Commitment to that data key.
    pub key_id: [u8; 32],
    /// Records in the block.
    pub record_count: u32,
    /// The sealing writer session's salt (the first 16 bytes of the block's nonce).
    pub salt: [u8; 16],
}

/// The fields of an encoded anchor, read without verifying its signature.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_anchor_info {
    /// The stream.
    pub stream: [u8; 32],
    /// Index of the anchored head block.
    pub last_index: u64,
    /// Id of the anchored head block.
    pub head: [u8; 32],
    /// Upload boundary the anchor closes, ms.
    pub through_ms: u64,
}

/// What a verified chain amounts to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cpchain_chain_summary {
    /// Position after the last verified block: resume a verifier or writer from here.
    pub checkpoint: cpchain_chain_checkpoint,
    /// Whether any anchor was given (then `anchored_index` is meaningful).
    pub has_anchor: bool,
    /// Highest anchored block index: blocks up to it are guaranteed complete.
    pub anchored_index: u64,
    /// Blocks whose data key the master secret gave and whose key id matched.
    pub keyed_blocks: u64,
}

/// The data-chain writer of one stream. Make it with `cpchain_chain_writer_new` (heap) or
/// `cpchain_chain_writer_new_in` (caller storage), release it with
/// `cpchain_chain_writer_free`. Single-threaded: see the module docs of cpchain-ffi.
pub struct cpchain_chain_writer {
    inner: Exclusive<ChainWriter>,
    origin: Origin,
}

/// Memory for one writer in the caller's storage (a `static` on firmware): pass it to
/// `cpchain_chain_writer_new_in`. Its contents are private; it must stay in place, untouched,
/// until `cpchain_chain_writer_free`, which wipes it and leaves it to the caller.
#[repr(C)]
pub struct cpchain_chain_writer_storage {
    _opaque: [u64; 1168],
}

const _: () = assert!(
    core::mem::size_of::<cpchain_chain_writer>()
        <= core::mem::size_of::<cpchain_chain_writer_storage>()
        && core::mem::align_of::<cpchain_chain_writer>()
            <= core::mem::align_of::<cpchain_chain_writer_storage>()
);

fn schedule_of(s: &cpchain_chain_schedule) -> FfiResult<Schedule> {
    Ok(Schedule::new(
        Duration::from_millis(s.period_ms),
        Duration::from_millis(s.encryption_interval_ms),
        Duration::from_millis(s.upload_interval_ms),
    )?)
}

fn checkpoint_of(c: &cpchain_chain_checkpoint) -> Checkpoint {
    Checkpoint {
        next_index: c.next_index,
        head: BlockId(Hash(c.head)),
        last_time: Timestamp(c.last_time_ms),
    }
}

fn checkpoint_to_c(c: &Checkpoint) -> cpchain_chain_checkpoint {
    cpchain_chain_checkpoint {
        next_index: c.next_index,
        head: c.head.0 .0,
        last_time_ms: c.last_time.as_millis(),
    }
}

/// The raw arguments of a writer constructor, as C passed them.
struct WriterArgs {
    stream: *const u8,
    stream_len: usize,
    schedule: *const cpchain_chain_schedule,
    device: *const cpchain_secret_key,
    master: *const u8,
    master_len: usize,
    from: *const cpchain_chain_checkpoint,
    entropy: *const u8,
    entropy_len: usize,
}

/// The checked inputs of a writer constructor: small, so that checking them costs no
/// writer-sized stack frame.
struct WriterParts {
    stream: StreamId,
    schedule: Schedule,
    device: cpchain_crypto::SecretKey,
    master: MasterSecret,
    checkpoint: Checkpoint,
    salt: SessionSalt,
}

impl WriterParts {
    /// The handle, built as one expression (no `Result` around the writer) so that the
    /// compiler can construct the ~9 KiB writer straight in its destination (caller storage
    /// or a fresh box): a firmware stack must not hold copies of it. `Writer::with_salt` is
    /// always inlined for the same reason. Measured on a Cortex-M4F at opt-level "z"
    /// (docs/BENCHMARKS.md, "Firmware"): `_new_in` needs 2.5 KiB of stack, where it needed
    /// 11.4 KiB while `with_salt` was an out-of-line call returning the writer by value.
    #[inline(always)]
    fn into_handle(self, origin: Origin) -> cpchain_chain_writer {
        cpchain_chain_writer {
            inner: Exclusive::new(Writer::with_salt(
                self.stream,
                self.schedule,
                self.device,
                self.master,
                self.checkpoint,
                self.salt,
            )),
            origin,
        }
    }
}

/// Read and check every input of a writer constructor.
///
/// # Safety
///
/// As `cpchain_chain_writer_new`.
unsafe fn writer_parts(args: WriterArgs) -> FfiResult<WriterParts> {
    let WriterArgs {
        stream,
        stream_len,
        schedule,
        device,
        master,
        master_len,
        from,
        entropy,
        entropy_len,
    } = args;
    // SAFETY: forwarded from this function's contract.
    let stream = unsafe { input_array::<CPCHAIN_STREAM_ID_LEN>(stream, stream_len) }?;
    // SAFETY: forwarded from this function's contract (a plain struct of integers).
    let schedule = schedule_of(unsafe { handle(schedule) }?)?;
    // SAFETY: forwarded from this function's contract.
    let device = unsafe { handle(device) }?.key.clone();
    // SAFETY: forwarded from this function's contract.
    let master = unsafe { input_array::<CPCHAIN_MASTER_SECRET_LEN>(master, master_len) }?;
    let master = MasterSecret::from_bytes(*Zeroizing::new(*master));
    let checkpoint = if from.is_null() {
        Checkpoint::GENESIS
    } else {
        // SAFETY: forwarded from this function's contract (a plain struct).
        checkpoint_of(unsafe { handle(from) }?)
    };
    // SAFETY: forwarded from this function's contract.
    let entropy = unsafe { input_array::<CPCHAIN_SESSION_ENTROPY_LEN>(entropy, entropy_len) }?;
    let salt = SessionSalt::from_entropy(&device.public_key().address(), entropy);
    Ok(WriterParts {
        stream: StreamId(*stream),
        schedule,
        device,
        master,
        checkpoint,
        salt,
    })
}

/// Make a data-chain writer on the heap for `stream` (32 bytes), with clocks `schedule`,
/// signing with `device` (the handle is only read: the writer keeps its own copy, so the
/// key handle may be freed afterwards) and deriving interval keys from `master` (32 bytes,
/// the owner's secret). `from` is NULL for a new chain, or the checkpoint after the last
/// block persisted before a restart (so the chain goes on without a fork).
/// `session_entropy` is 32 bytes of fresh entropy from the caller's RNG
/// (`CPCHAIN_SESSION_ENTROPY_LEN`), new for every writer: they salt the session's nonces, so
/// even a writer restarted from genesis never reuses a (key, nonce) pair.
///
/// On success `*out` is a handle to free with `cpchain_chain_writer_free`; on any error it
/// is NULL. A bad schedule is `CPCHAIN_RESULT_CHAIN_ZERO_PERIOD`,
/// `..._ENCRYPTION_INTERVAL` or `..._UPLOAD_INTERVAL`.
///
/// # Safety
///
/// `stream` readable for `stream_len` bytes, `master` for `master_len`, `session_entropy`
/// for `session_entropy_len`; `schedule` (and `from` unless NULL) a readable struct;
/// `device` a live key handle; `out` a writable pointer.
#[cfg(feature = "alloc")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_new(
    stream: *const u8,
    stream_len: usize,
    schedule: *const cpchain_chain_schedule,
    device: *const cpchain_secret_key,
    master: *const u8,
    master_len: usize,
    from: *const cpchain_chain_checkpoint,
    session_entropy: *const u8,
    session_entropy_len: usize,
    out: *mut *mut cpchain_chain_writer,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        // SAFETY: forwarded from this function's contract.
        let parts = unsafe {
            writer_parts(WriterArgs {
                stream,
                stream_len,
                schedule,
                device,
                master,
                master_len,
                from,
                entropy: session_entropy,
                entropy_len: session_entropy_len,
            })
        }?;
        out.set(alloc::boxed::Box::into_raw(alloc::boxed::Box::new(
            parts.into_handle(Origin::Heap),
        )));
        Ok(())
    }
}

/// `cpchain_chain_writer_new` without the heap: the writer is made in `storage` (about
/// 9 KiB; `sizeof(cpchain_chain_writer_storage)`), and `*out` points into it. A NULL or
/// misaligned `storage` is refused before anything is written.
///
/// # Safety
///
/// As `cpchain_chain_writer_new`; `storage` writable, and left in place and otherwise
/// unused until `cpchain_chain_writer_free(*out)`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_new_in(
    storage: *mut cpchain_chain_writer_storage,
    stream: *const u8,
    stream_len: usize,
    schedule: *const cpchain_chain_schedule,
    device: *const cpchain_secret_key,
    master: *const u8,
    master_len: usize,
    from: *const cpchain_chain_checkpoint,
    session_entropy: *const u8,
    session_entropy_len: usize,
    out: *mut *mut cpchain_chain_writer,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(core::ptr::null_mut());
        let slot: NonNull<cpchain_chain_writer> = storage_slot(storage)?;
        // SAFETY: forwarded from this function's contract.
        let parts = unsafe {
            writer_parts(WriterArgs {
                stream,
                stream_len,
                schedule,
                device,
                master,
                master_len,
                from,
                entropy: session_entropy,
                entropy_len: session_entropy_len,
            })
        }?;
        // SAFETY: `slot` is non-NULL and aligned (storage_slot), large enough (compile-time
        // assertion), and vouched writable and unused by the caller; nothing is dropped.
        unsafe { slot.as_ptr().write(parts.into_handle(Origin::Caller)) };
        out.set(slot.as_ptr());
        Ok(())
    }
}

/// Release a writer and wipe it (device key, master secret, buffered plaintext). NULL is
/// fine; a poisoned writer is freed like any other. A writer in caller storage leaves the
/// storage zeroed and free to reuse.
///
/// # Safety
///
/// `writer` NULL or a live handle not freed before, used by no other thread now, and not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_free(writer: *mut cpchain_chain_writer) {
    ffi_boundary_void! {
        if writer.is_null() {
            return;
        }
        #[cfg_attr(not(feature = "alloc"), allow(unused_variables))]
        // SAFETY: a live handle (contract).
        let origin = unsafe { (*writer).origin };
        // SAFETY: the handle was written by one of our constructors and is dropped once
        // (contract); the drop wipes the keys.
        unsafe { core::ptr::drop_in_place(writer) };
        // SAFETY: the handle's bytes stay ours until we return, valid as MaybeUninit<u8>.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(
                writer.cast::<core::mem::MaybeUninit<u8>>(),
                core::mem::size_of::<cpchain_chain_writer>(),
            )
        };
        // The body buffers may hold plaintext records: wipe the whole handle.
        bytes.zeroize();
        #[cfg(feature = "alloc")]
        if origin == Origin::Heap {
            // SAFETY: a heap handle came from Box::into_raw of a Box<cpchain_chain_writer>;
            // the MaybeUninit box has the same layout and deallocates without dropping again.
            drop(unsafe {
                alloc::boxed::Box::from_raw(writer.cast::<core::mem::MaybeUninit<cpchain_chain_writer>>())
            });
        }
    }
}

/// Take a writer for one call.
///
/// # Safety
///
/// `writer` a live handle.
unsafe fn writer_ref<'a>(
    writer: *const cpchain_chain_writer,
) -> FfiResult<&'a cpchain_chain_writer> {
    // SAFETY: forwarded from this function's contract.
    unsafe { handle(writer) }
}

/// Append `record` (`len` bytes; NULL allowed when 0) observed at `now_ms` (Unix time,
/// milliseconds, from the gateway's clock). May seal the open block and make an anchor due
/// first: poll afterwards. On any error the writer is unchanged:
/// `CPCHAIN_RESULT_CHAIN_TIME_WENT_BACKWARDS` (an earlier time than already seen),
/// `..._RECORD_TOO_LARGE` (over `CPCHAIN_CHAIN_PLAINTEXT_CAP` framed), `..._OUTPUT_PENDING`
/// (poll first, then retry).
///
/// # Safety
///
/// `writer` a live handle; `record` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_append(
    writer: *mut cpchain_chain_writer,
    now_ms: u64,
    record: *const u8,
    len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let record = unsafe { input(record, len) }?;
        let mut guard = w.inner.lock()?;
        guard.append(Timestamp(now_ms), record)?;
        Ok(())
    }
}

/// The gateway's timer fired at `now_ms`: seal the open block if its period is over and
/// make a due anchor. Poll afterwards. A time earlier than one already seen is ignored.
///
/// # Safety
///
/// `writer` a live handle.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_handle_timeout(
    writer: *mut cpchain_chain_writer,
    now_ms: u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        w.inner.lock()?.handle_timeout(Timestamp(now_ms));
        Ok(())
    }
}

/// Seal the open block at `now_ms` (before a planned shutdown); time passes first, as in
/// `cpchain_chain_writer_handle_timeout`. `*sealed` is false when there was nothing to seal,
/// a sealed block is still unpolled, or `now_ms` is before a time already seen.
///
/// # Safety
///
/// `writer` a live handle; `sealed` a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_flush(
    writer: *mut cpchain_chain_writer,
    now_ms: u64,
    sealed: *mut bool,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let sealed = unsafe { OutPtr::new(sealed) }?;
        sealed.set(w.inner.lock()?.flush(Timestamp(now_ms)));
        Ok(())
    }
}

/// When to call `cpchain_chain_writer_handle_timeout` next. `*has_deadline` is false when
/// no timer is needed (nothing open, no anchor due); otherwise `*deadline_ms` is the time.
///
/// # Safety
///
/// `writer` a live handle; `has_deadline` a writable `bool`; `deadline_ms` a writable
/// `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_next_deadline(
    writer: *const cpchain_chain_writer,
    has_deadline: *mut bool,
    deadline_ms: *mut u64,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let has = unsafe { OutPtr::new(has_deadline) }?;
        // SAFETY: forwarded from this function's contract.
        let at = unsafe { OutPtr::new(deadline_ms) }?;
        let next = w.inner.lock()?.next_deadline();
        has.set(next.is_some());
        at.set(next.map_or(0, |t| t.as_millis()));
        Ok(())
    }
}

/// The next output, encoded into `buf`: `*kind` says a block or an anchor, `*out_len` its
/// length. Call after every input until it returns `CPCHAIN_RESULT_NO_OUTPUT` (with `*kind`
/// `CPCHAIN_CHAIN_OUTPUT_KIND_NONE` and `*out_len` 0). A block comes before the anchor that
/// covers it.
///
/// `buf_len` must be at least `CPCHAIN_CHAIN_OUTPUT_MAX_LEN`; a smaller buffer gets
/// `CPCHAIN_RESULT_INSUFFICIENT_SIZE` with that size in `*out_len`, and nothing is polled
/// (no output is lost). `buf` must not overlap the writer.
///
/// # Safety
///
/// `writer` a live handle; `buf` writable for `buf_len` bytes; `out_len` a writable
/// `size_t`; `kind` a writable `cpchain_chain_output_kind`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_poll(
    writer: *mut cpchain_chain_writer,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    kind: *mut cpchain_chain_output_kind,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let kind = unsafe { OutPtr::new(kind) }?;
        kind.set(cpchain_chain_output_kind::None);
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let mut out = unsafe { OutBuf::new(buf, buf_len) }?;
        if out.cap() < CPCHAIN_CHAIN_OUTPUT_MAX_LEN {
            out_len.set(CPCHAIN_CHAIN_OUTPUT_MAX_LEN);
            return Err(cpchain_result::InsufficientSize);
        }
        let handle_bytes = core::mem::size_of::<cpchain_chain_writer>();
        if overlaps(out.start(), out.cap(), writer.cast::<u8>(), handle_bytes) {
            return Err(cpchain_result::OverlappingBuffers);
        }
        let mut guard = w.inner.lock()?;
        let Some(output) = guard.poll_output() else {
            out_len.set(0);
            return Err(cpchain_result::NoOutput);
        };
        let (written, k) = match output {
            WriterOutput::Block(b) => (
                b.encode_to_slice(out.zeroed_slice())?.len(),
                cpchain_chain_output_kind::Block,
            ),
            WriterOutput::Anchor(a) => (
                encoding::encode_to_slice(&a, out.zeroed_slice())?.len(),
                cpchain_chain_output_kind::Anchor,
            ),
        };
        out_len.set(written);
        kind.set(k);
        Ok(())
    }
}

/// The writer's position after its last sealed block: persist it with the block, resume
/// from it after a restart.
///
/// # Safety
///
/// `writer` a live handle; `out` a writable `cpchain_chain_checkpoint`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_checkpoint(
    writer: *const cpchain_chain_writer,
    out: *mut cpchain_chain_checkpoint,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        out.set(checkpoint_to_c(&w.inner.lock()?.checkpoint()));
        Ok(())
    }
}

/// The writer's counters.
///
/// # Safety
///
/// `writer` a live handle; `out` a writable `cpchain_chain_writer_stats`.
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_writer_get_stats(
    writer: *const cpchain_chain_writer,
    out: *mut cpchain_chain_writer_stats,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let w = unsafe { writer_ref(writer) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        let s = w.inner.lock()?.stats();
        out.set(cpchain_chain_writer_stats {
            records: s.records,
            blocks: s.blocks,
            early_seals: s.early_seals,
            anchors: s.anchors,
            anchors_superseded: s.anchors_superseded,
        });
        Ok(())
    }
}

/// Decode an encoded block from untrusted bytes (allocates its body).
#[cfg(feature = "std")]
fn decode_block(bytes: &[u8]) -> FfiResult<VecBlock> {
    Ok(encoding::decode::<VecBlock>(bytes)?)
}

/// Read the public fields of an encoded block (no verification: run `cpchain_chain_verify`
/// for that). The checkpoint after this block is `{index + 1, id, last_time_ms}`.
///
/// # Safety
///
/// `block` readable for `len` bytes; `out` a writable `cpchain_chain_block_info`.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_block_get_info(
    block: *const u8,
    len: usize,
    out: *mut cpchain_chain_block_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(block, len) }?;
        let b = decode_block(bytes)?;
        let h = &b.header;
        out.set(cpchain_chain_block_info {
            stream: h.stream.0,
            index: h.index,
            prev: h.prev.0 .0,
            id: b.id().0 .0,
            first_time_ms: h.first_time.as_millis(),
            last_time_ms: h.last_time.as_millis(),
            interval: h.interval,
            key_id: h.key_id.0 .0,
            record_count: h.record_count,
            salt: h.salt.0,
        });
        Ok(())
    }
}

/// Read the fields of an encoded anchor (no signature check: `cpchain_chain_verify` does it).
///
/// # Safety
///
/// `anchor` readable for `len` bytes; `out` a writable `cpchain_chain_anchor_info`.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_anchor_get_info(
    anchor: *const u8,
    len: usize,
    out: *mut cpchain_chain_anchor_info,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(anchor, len) }?;
        let a: Anchor = encoding::decode(bytes)?;
        out.set(cpchain_chain_anchor_info {
            stream: a.stream.0,
            last_index: a.last_index,
            head: a.head.0 .0,
            through_ms: a.through.as_millis(),
        });
        Ok(())
    }
}

/// The data key of `stream`'s encryption interval `interval`, derived from the owner's
/// master secret: what opens that interval's blocks, and what a share grants. Handle the
/// output as a secret.
///
/// # Safety
///
/// `master` readable for `master_len` bytes, `stream` for `stream_len`; `out` writable for
/// `out_len` bytes (`CPCHAIN_DATA_KEY_LEN` needed).
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_data_key(
    master: *const u8,
    master_len: usize,
    stream: *const u8,
    stream_len: usize,
    interval: u64,
    out: *mut u8,
    out_len: usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(out, out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let master = unsafe { input_array::<CPCHAIN_MASTER_SECRET_LEN>(master, master_len) }?;
        // SAFETY: forwarded from this function's contract.
        let stream = unsafe { input_array::<CPCHAIN_STREAM_ID_LEN>(stream, stream_len) }?;
        let master = MasterSecret::from_bytes(*Zeroizing::new(*master));
        let key = master.interval_key(&StreamId(*stream), interval);
        out.write_fixed(key.aead_key().expose_secret())
    }
}

/// Verify a run of encoded `blocks` (in the order received) of `stream`, signed by `device`
/// (SEC1 public key, 33 or 65 bytes), against encoded `anchors`, starting from `from` (NULL:
/// block 0). With a `master` secret (32 bytes; NULL with length 0 for none) each block's key
/// id is checked against its interval's key too.
///
/// Every verdict has its own code: tampering (`CPCHAIN_RESULT_CHAIN_BODY_TAMPERED`,
/// `..._BAD_SIGNATURE`), `..._REORDERED`, `..._MISSING_BLOCK`, `..._REPLAYED`, a fork
/// (`..._CONFLICTING_BLOCK`, `..._BROKEN_LINK`), `..._TRUNCATED_AFTER_ANCHOR`,
/// `..._ANCHOR_MISMATCH`, `..._BACKDATED_AFTER_ANCHOR`, `..._WRONG_INTERVAL_KEY`,
/// `..._BAD_ANCHOR`; undecodable input is a `CPCHAIN_RESULT_DECODE_*` code. On success
/// `*out` holds the summary; only the anchored prefix is guaranteed complete.
///
/// # Safety
///
/// `stream`, `device`, `master` readable for their lengths; `schedule` (and `from` unless
/// NULL) readable structs; `anchors` and `blocks` arrays of `n_anchors` / `n_blocks`
/// `cpchain_bytes` (NULL when the count is 0), each naming readable bytes; `out` writable.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_verify(
    stream: *const u8,
    stream_len: usize,
    device: *const u8,
    device_len: usize,
    schedule: *const cpchain_chain_schedule,
    from: *const cpchain_chain_checkpoint,
    anchors: *const cpchain_bytes,
    n_anchors: usize,
    blocks: *const cpchain_bytes,
    n_blocks: usize,
    master: *const u8,
    master_len: usize,
    out: *mut cpchain_chain_summary,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutPtr::new(out) }?;
        // SAFETY: forwarded from this function's contract.
        let stream = StreamId(*unsafe { input_array::<CPCHAIN_STREAM_ID_LEN>(stream, stream_len) }?);
        // SAFETY: forwarded from this function's contract.
        let device = unsafe { public_key(device, device_len) }?;
        // SAFETY: forwarded from this function's contract.
        let schedule = schedule_of(unsafe { handle(schedule) }?)?;
        let checkpoint = if from.is_null() {
            Checkpoint::GENESIS
        } else {
            // SAFETY: forwarded from this function's contract.
            checkpoint_of(unsafe { handle(from) }?)
        };
        let master = if master.is_null() && master_len == 0 {
            None
        } else {
            // SAFETY: forwarded from this function's contract.
            let m = unsafe { input_array::<CPCHAIN_MASTER_SECRET_LEN>(master, master_len) }?;
            Some(MasterSecret::from_bytes(*Zeroizing::new(*m)))
        };
        // SAFETY: forwarded from this function's contract.
        let anchor_items = unsafe { input_items(anchors, n_anchors) }?;
        // SAFETY: forwarded from this function's contract.
        let block_items = unsafe { input_items(blocks, n_blocks) }?;
        let mut decoded_anchors = Vec::with_capacity(anchor_items.len());
        for item in anchor_items {
            // SAFETY: forwarded from this function's contract on each element.
            let bytes = unsafe { input(item.ptr, item.len) }?;
            decoded_anchors.push(encoding::decode::<Anchor>(bytes)?);
        }
        let mut decoded_blocks = Vec::with_capacity(block_items.len());
        for item in block_items {
            // SAFETY: forwarded from this function's contract on each element.
            let bytes = unsafe { input(item.ptr, item.len) }?;
            decoded_blocks.push(decode_block(bytes)?);
        }
        let verifier = ChainVerifier::resume(stream, device, schedule, checkpoint);
        let summary = match &master {
            Some(m) => verify_chain(verifier, &decoded_anchors, &decoded_blocks, m),
            None => verify_chain(verifier, &decoded_anchors, &decoded_blocks, &NoKeys),
        }?;
        out.set(cpchain_chain_summary {
            checkpoint: checkpoint_to_c(&summary.checkpoint),
            has_anchor: summary.anchored.is_some(),
            anchored_index: summary.anchored.unwrap_or(0),
            keyed_blocks: summary.keyed_blocks,
        });
        Ok(())
    }
}

/// Decrypt one encoded block with its interval's data key (32 bytes, from
/// `cpchain_chain_data_key` or a share) into `buf` as a flat list of records, each
/// `time_ms (uint64 little-endian) || len (uint32 little-endian) || len bytes`; walk it
/// with `cpchain_records_next`. `*record_count` is the number of records.
///
/// This checks the key against the block's key id (`CPCHAIN_RESULT_CHAIN_WRONG_INTERVAL_KEY`)
/// and the records against the header, but not the device signature or the chain: verify
/// first with `cpchain_chain_verify`. On success `*out_len` is the bytes written; on a
/// too-small buffer it is the size needed (`buf` may be NULL with `buf_len` 0 to ask) and
/// nothing is written.
///
/// # Safety
///
/// `block` readable for `block_len` bytes, `key` for `key_len`; `buf` writable for
/// `buf_len`; `out_len` a writable `size_t`; `record_count` a writable `size_t`.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_chain_open_block(
    block: *const u8,
    block_len: usize,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    record_count: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let out_len = unsafe { OutPtr::new(out_len) }?;
        // SAFETY: forwarded from this function's contract.
        let count_out = unsafe { OutPtr::new(record_count) }?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { OutBuf::new(buf, buf_len) }?;
        // SAFETY: forwarded from this function's contract.
        let key = unsafe { input_array::<CPCHAIN_DATA_KEY_LEN>(key, key_len) }?;
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(block, block_len) }?;
        let b = decode_block(bytes)?;
        let key = IntervalKey::from_parts(
            b.header.stream,
            b.header.interval,
            AeadKey::from_bytes(*Zeroizing::new(*key)),
        );
        let mut scratch = Zeroizing::new(vec![0u8; b.body.len()]);
        let records = open_block(&b, &key, &mut scratch)?;
        let mut needed = 0usize;
        let mut count = 0usize;
        for r in records.clone() {
            needed = needed
                .checked_add(CPCHAIN_RECORD_HEADER_LEN)
                .and_then(|n| n.checked_add(r.data.len()))
                .ok_or(cpchain_result::InvalidParameter)?;
            count = count.saturating_add(1);
        }
        if needed > out.cap() {
            out_len.set(needed);
            return Err(cpchain_result::InsufficientSize);
        }
        let mut at = 0usize;
        for r in records {
            let len = u32::try_from(r.data.len()).map_err(|_| cpchain_result::InvalidParameter)?;
            out.write_at(at, &r.time.as_millis().to_le_bytes())?;
            out.write_at(at.saturating_add(8), &len.to_le_bytes())?;
            out.write_at(at.saturating_add(CPCHAIN_RECORD_HEADER_LEN), r.data)?;
            at = at
                .saturating_add(CPCHAIN_RECORD_HEADER_LEN)
                .saturating_add(r.data.len());
        }
        out_len.set(at);
        count_out.set(count);
        Ok(())
    }
}

/// Walk the records `cpchain_chain_open_block` wrote: start with `*offset = 0`; each call
/// returns the record at `*offset` (`*time_ms`, and `*data`/`*data_len` pointing into `buf`)
/// and advances `*offset`. At the end it returns `CPCHAIN_RESULT_NO_OUTPUT`; a record that
/// runs past `buf_len` is `CPCHAIN_RESULT_DECODE_TRUNCATED`.
///
/// # Safety
///
/// `buf` readable for `buf_len` bytes and alive while `*data` is used; `offset`, `time_ms`,
/// `data`, `data_len` writable.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn cpchain_records_next(
    buf: *const u8,
    buf_len: usize,
    offset: *mut usize,
    time_ms: *mut u64,
    data: *mut *const u8,
    data_len: *mut usize,
) -> cpchain_result {
    ffi_boundary! {
        // SAFETY: forwarded from this function's contract.
        let bytes = unsafe { input(buf, buf_len) }?;
        // SAFETY: forwarded from this function's contract.
        let offset_out = unsafe { OutPtr::new(offset) }?;
        // SAFETY: forwarded from this function's contract.
        let time_out = unsafe { OutPtr::new(time_ms) }?;
        // SAFETY: forwarded from this function's contract.
        let data_out = unsafe { OutPtr::new(data) }?;
        // SAFETY: forwarded from this function's contract.
        let len_out = unsafe { OutPtr::new(data_len) }?;
        // SAFETY: `offset` was checked non-NULL and aligned just above; the caller vouched
        // it readable and initialised.
        let at = unsafe { offset.read() };
        let rest = bytes.get(at..).ok_or(cpchain_result::InvalidParameter)?;
        if rest.is_empty() {
            return Err(cpchain_result::NoOutput);
        }
        let (time, rest) = rest.split_first_chunk::<8>().ok_or(cpchain_result::DecodeTruncated)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or(cpchain_result::DecodeTruncated)?;
        let len = usize::try_from(u32::from_le_bytes(*len))
            .map_err(|_| cpchain_result::DecodeTruncated)?;
        let record = rest.get(..len).ok_or(cpchain_result::DecodeTruncated)?;
        time_out.set(u64::from_le_bytes(*time));
        data_out.set(record.as_ptr());
        len_out.set(len);
        offset_out.set(
            at.saturating_add(CPCHAIN_RECORD_HEADER_LEN)
                .saturating_add(len),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_storage_fits_with_little_slack() {
        let need = core::mem::size_of::<cpchain_chain_writer>();
        let have = core::mem::size_of::<cpchain_chain_writer_storage>();
        println!("writer {need} B, storage {have} B");
        assert!(need <= have && have - need < 1024, "{need} vs {have}");
    }
}
