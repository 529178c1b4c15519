//! The data-chain writer (§2.2.1, §2.5.1): the state machine that runs on a device or data
//! gateway, packs records of each period T into a block, seals it under the interval key and
//! emits an anchor every upload interval u.
//!
//! # Inputs and outputs
//! * [`Writer::append`]`(now, record)`: a record observed at `now`.
//! * [`Writer::handle_timeout`]`(now)`: the host's timer fired; call it at
//!   [`Writer::next_deadline`] so a quiet stream still seals its block when the period ends.
//! * [`Writer::poll_output`] until `None` after every input: [`WriterOutput::Block`] (persist it,
//!   then store its shards) and [`WriterOutput::Anchor`] (put it on chain). A block is *lent*
//!   ([`crate::BlockRef`] borrows the writer's buffer): encode or copy it before the next
//!   call on the writer, which releases the buffer.
//!
//! # Ordering contract
//! A block is always polled before the anchor that covers it, and the block *is* the
//! writer's checkpoint ([`Checkpoint::after`]): persist it before you send it or the anchor
//! anywhere. After a restart, [`Writer::resume`] from the last persisted block, so the chain
//! continues without a fork. Nonce safety does not depend on this: every writer session
//! draws a fresh [`SessionSalt`] from the caller's RNG ([`Writer::new`], [`Writer::resume`])
//! or entropy ([`Writer::with_salt`]) and every block's nonce is salt ‖ index, so even a
//! writer restarted from genesis, or resumed from an old checkpoint, never reuses a
//! (key, nonce) pair (see [`crate::block`]).
//!
//! # Firmware
//! No allocator: two `heapless::Vec<u8, BLOCK_CAP>` body buffers (where `BLOCK_CAP` is the
//! body capacity: framed records plus the 16-byte tag) take turns as the open block and the
//! sealed block being handed out. Blocks are sealed in place and lent, never copied, so RAM
//! is about `2 × BLOCK_CAP` plus a few hundred bytes and no block-sized value ever goes on the
//! stack.
//!
//! # Decisions
//! * A record whose `now` is earlier than a time already seen is refused with
//!   [`WriteError::TimeWentBackwards`]: the chain is in time order and sealed blocks are
//!   immutable. Equal times are fine.
//! * A record that cannot fit even an empty block is refused with
//!   [`WriteError::RecordTooLarge`]. A record that fits an empty block but not the open one
//!   seals the open block early (same period, next index) and starts a new one: nothing is
//!   dropped. A period can therefore hold several blocks; a block never spans two periods.
//! * If a block must be sealed while the previous sealed block is still unpolled, `append`
//!   returns [`WriteError::OutputPending`] and `handle_timeout` defers sealing (the block's
//!   contents do not depend on when it is sealed, only on its records).
//! * An anchor is emitted at an upload boundary only if the head moved since the last
//!   anchor: an idle stream costs no transactions. An unpolled anchor is replaced by a newer
//!   one (the newer commits to the older's head through the hash chain); replacements are
//!   counted in [`WriterStats::anchors_superseded`].
//!
//! Every error leaves the writer unchanged. Same inputs give the same outputs, byte for byte
//! (signatures are RFC 6979 deterministic).

use crate::anchor::Anchor;
use crate::block::{
    framed_len, seal_in_place, BlockHeader, BlockId, BlockRef, BlockSeal, RecordFramer,
    SessionSalt, StreamId,
};
use crate::keys::{IntervalKey, MasterSecret};
use crate::schedule::Schedule;
use crate::WriteError;
use core::fmt;
use cpchain_core::machine::{Machine, MachineStats};
use cpchain_core::{Hash, Timestamp};
use cpchain_crypto::aead::TAG_LEN;
use cpchain_crypto::{CryptoRngCore, PublicKey, SecretKey};

/// Where a writer continues an existing chain: the position after its last persisted block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Index the next block gets.
    pub next_index: u64,
    /// Id of the last block (the next block's `prev`).
    pub head: BlockId,
    /// Time of the last record in the last block.
    pub last_time: Timestamp,
}

impl Checkpoint {
    /// The position of a chain with no blocks yet.
    pub const GENESIS: Checkpoint = Checkpoint {
        next_index: 0,
        head: BlockId(Hash::ZERO),
        last_time: Timestamp(0),
    };

    /// The position after `block` (take it from the last block you persisted; for an owned
    /// [`crate::Block`] pass `block.view()`).
    pub fn after(block: BlockRef<'_>) -> Checkpoint {
        Checkpoint {
            next_index: block.header.index.saturating_add(1),
            head: block.id(),
            last_time: block.header.last_time,
        }
    }
}

/// What the host must do next.
///
/// A block is lent, not moved: the body stays in the writer's buffer (no copy of up to
/// `BLOCK_CAP` bytes, no block-sized stack frame on firmware) until the next call on the
/// writer, which releases it. Encode it ([`BlockRef::encode_to_slice`]) or copy it
/// ([`BlockRef::to_block`]) before then.
///
/// Not `#[non_exhaustive]`: the data chain's two products are fixed by §2.2.1 (the sealed
/// block and the anchor that commits to it), and firmware hosts match both exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterOutput<'a> {
    /// Persist this sealed block, then shard and store it.
    Block(BlockRef<'a>),
    /// Record this anchor on chain (after the blocks it covers are stored).
    Anchor(Anchor),
}

/// The name [`WriterOutput`] had before issue 13 (every machine's output enum is now named
/// `<Machine>Output`); kept so code written against it, in flight on other branches, still
/// builds. New code names `WriterOutput`.
pub type Output<'a> = WriterOutput<'a>;

/// Counters, for the host's telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records accepted.
    pub records: u64,
    /// Blocks sealed.
    pub blocks: u64,
    /// Blocks sealed early because the next record did not fit.
    pub early_seals: u64,
    /// Anchors emitted.
    pub anchors: u64,
    /// Anchors replaced by a newer one before the host polled them.
    pub anchors_superseded: u64,
}

impl MachineStats for WriterStats {
    /// A writer takes no peer input (its inputs are the device's own records and clock), so
    /// it never drops any.
    fn dropped(&self) -> u64 {
        0
    }
}

#[derive(Clone, Copy)]
struct OpenMeta {
    first: Timestamp,
    /// End of `first`'s period, cached: the hot path compares instead of dividing.
    seal_at: Timestamp,
    last: Timestamp,
    count: u32,
}

/// The data-chain writer of one stream, with a block body capacity of `BLOCK_CAP` bytes.
pub struct Writer<const BLOCK_CAP: usize> {
    stream: StreamId,
    schedule: Schedule,
    device: SecretKey,
    master: MasterSecret,
    /// This session's salt: the first 16 bytes of every nonce it uses.
    salt: SessionSalt,
    key: Option<IntervalKey>,
    next_index: u64,
    head: BlockId,
    last_now: Option<Timestamp>,
    /// Two body buffers: one takes records, the other holds the sealed block until the host
    /// has been lent it; they swap roles at every seal.
    buf_a: heapless::Vec<u8, BLOCK_CAP>,
    buf_b: heapless::Vec<u8, BLOCK_CAP>,
    a_is_open: bool,
    meta: Option<OpenMeta>,
    sealed: Option<BlockSeal>,
    lent: bool,
    anchor: Option<Anchor>,
    anchored: Option<u64>,
    next_boundary: Option<Timestamp>,
    stats: WriterStats,
}

impl<const BLOCK_CAP: usize> fmt::Debug for Writer<BLOCK_CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("stream", &self.stream)
            .field("next_index", &self.next_index)
            .field("head", &self.head)
            .field("open_bytes", &self.open_len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<const BLOCK_CAP: usize> Writer<BLOCK_CAP> {
    /// Plaintext bytes an empty block holds (capacity less the tag).
    pub const PLAINTEXT_CAP: usize = BLOCK_CAP.saturating_sub(TAG_LEN);

    /// A writer for a new chain. `device` signs blocks and anchors; `master` derives the
    /// interval keys; `rng` (the caller's, a hardware RNG on firmware) gives this session's
    /// salt, so a writer started from genesis again never repeats a nonce.
    pub fn new(
        stream: StreamId,
        schedule: Schedule,
        device: SecretKey,
        master: MasterSecret,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        Self::resume(stream, schedule, device, master, Checkpoint::GENESIS, rng)
    }

    /// A writer continuing a chain from `checkpoint` (see the ordering contract), with a
    /// fresh session salt from `rng`.
    pub fn resume(
        stream: StreamId,
        schedule: Schedule,
        device: SecretKey,
        master: MasterSecret,
        checkpoint: Checkpoint,
        rng: &mut impl CryptoRngCore,
    ) -> Self {
        let salt = SessionSalt::random(&device.public_key().address(), rng);
        Self::with_salt(stream, schedule, device, master, checkpoint, salt)
    }

    /// A writer continuing from `checkpoint` ([`Checkpoint::GENESIS`] for a new chain) with
    /// the session salt `salt`: for hosts that hold entropy rather than an RNG (the C API,
    /// [`SessionSalt::from_entropy`]). The salt must be fresh for every session, never saved
    /// and reused: a repeated salt under one stream is a repeated nonce.
    ///
    /// Always inlined: the writer is about `2 × BLOCK_CAP` bytes, and only when the caller
    /// sees this struct literal can the compiler build it straight in its destination (a
    /// `static`, caller storage, a box) rather than on the stack first and then copy it. On a
    /// Cortex-M4 at opt-level "z" that is the difference between about 0.8 KiB and 11 KiB of
    /// stack for the C API's `cpchain_chain_writer_new_in` (docs/BENCHMARKS.md, "Firmware").
    #[inline(always)]
    pub fn with_salt(
        stream: StreamId,
        schedule: Schedule,
        device: SecretKey,
        master: MasterSecret,
        checkpoint: Checkpoint,
        salt: SessionSalt,
    ) -> Self {
        let resumed = checkpoint.next_index > 0;
        Writer {
            stream,
            schedule,
            device,
            master,
            salt,
            key: None,
            next_index: checkpoint.next_index,
            head: checkpoint.head,
            last_now: resumed.then_some(checkpoint.last_time),
            buf_a: heapless::Vec::new(),
            buf_b: heapless::Vec::new(),
            a_is_open: true,
            meta: None,
            sealed: None,
            lent: false,
            anchor: None,
            // A resumed chain's earlier anchors are not known here; re-anchoring the head
            // once is harmless.
            anchored: None,
            next_boundary: resumed.then(|| schedule.upload_boundary_after(checkpoint.last_time)),
            stats: WriterStats::default(),
        }
    }

    /// The stream this writer extends.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// The device public key readers verify blocks and anchors against.
    pub fn device_public_key(&self) -> PublicKey {
        self.device.public_key()
    }

    /// This session's salt (carried in every block it seals).
    pub fn salt(&self) -> SessionSalt {
        self.salt
    }

    /// The schedule (T, e, u).
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Position after the last sealed block. Its `last_time` is the latest time the writer
    /// has seen, which may be later than the last sealed record: resuming from it is safe,
    /// only stricter about late records than [`Checkpoint::after`].
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            next_index: self.next_index,
            head: self.head,
            last_time: self.last_now.unwrap_or(Timestamp(0)),
        }
    }

    /// Counters.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// Records waiting in the open block.
    pub fn open_records(&self) -> u32 {
        self.meta.map_or(0, |m| m.count)
    }

    /// Append `record`, observed at `now`. May seal the open block (period over, or no room)
    /// and emit an anchor (upload boundary passed) first. On `Err` nothing changed.
    pub fn append(&mut self, now: Timestamp, record: &[u8]) -> Result<(), WriteError> {
        self.release();
        if let Some(last) = self.last_now {
            if now < last {
                return Err(WriteError::TimeWentBackwards { last, now });
            }
        }
        let max = Self::PLAINTEXT_CAP;
        if framed_len(0, record.len()) > max {
            return Err(WriteError::RecordTooLarge {
                len: record.len(),
                max,
            });
        }
        let period_over = self.meta.is_some_and(|m| now >= m.seal_at);
        let fits_open = match self.meta {
            Some(m) if !period_over => {
                let delta = now.as_millis().saturating_sub(m.first.as_millis());
                m.count < u32::MAX
                    && self
                        .open_len()
                        .saturating_add(framed_len(delta, record.len()))
                        <= max
            }
            _ => true,
        };
        let must_seal = self.meta.is_some() && (period_over || !fits_open);
        if must_seal && self.sealed.is_some() {
            return Err(WriteError::OutputPending);
        }
        if must_seal && self.next_index == u64::MAX {
            return Err(WriteError::Exhausted);
        }
        // From here on nothing fails.
        self.advance(now);
        if !fits_open {
            self.seal_open();
            self.stats.early_seals += 1;
        }
        let schedule = self.schedule;
        let meta = self.meta.get_or_insert_with(|| OpenMeta {
            first: now,
            seal_at: schedule.period_end(now),
            last: now,
            count: 0,
        });
        let delta = now.as_millis().saturating_sub(meta.first.as_millis());
        let open = if self.a_is_open {
            &mut self.buf_a
        } else {
            &mut self.buf_b
        };
        if RecordFramer::push(open, delta, record).is_ok() {
            meta.last = now;
            meta.count = meta.count.saturating_add(1);
            self.stats.records += 1;
        }
        self.last_now = Some(now);
        Ok(())
    }

    /// The host's timer fired (or any time passes): seal the open block if its period is
    /// over and emit a due anchor. A `now` earlier than a time already seen is ignored.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.release();
        if self.last_now.is_some_and(|last| now < last) {
            return;
        }
        self.advance(now);
        self.last_now = Some(now);
    }

    /// Seal the open block at `now`, before its period ends (for example before a planned
    /// shutdown). Time passes first, exactly as in [`handle_timeout`](Self::handle_timeout)
    /// (a period that is over seals, a due anchor is emitted), then whatever is still open
    /// is sealed. Returns whether a block was sealed; `false` if there was nothing to seal,
    /// a sealed block is still unpolled, or `now` is earlier than a time already seen.
    pub fn flush(&mut self, now: Timestamp) -> bool {
        self.release();
        if self.last_now.is_some_and(|last| now < last) {
            return false;
        }
        let before = self.stats.blocks;
        self.advance(now);
        self.last_now = Some(now);
        if self.meta.is_some() && self.sealed.is_none() && self.next_index != u64::MAX {
            self.seal_open();
        }
        self.stats.blocks > before
    }

    /// When the host should call [`Writer::handle_timeout`] next: the end of the open
    /// block's period, or the next upload boundary if an anchor will be due then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let seal = self.meta.map(|m| m.seal_at);
        // Sealing moves the head, and the seal deadline comes first, so after it the host
        // asks again and gets the boundary.
        let anchor = match self.next_index.checked_sub(1) {
            Some(last) if self.anchored.is_none_or(|a| a < last) => self.next_boundary,
            _ => None,
        };
        match (seal, anchor) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing the host must do, in order; `None` when there is nothing left.
    pub fn poll_output(&mut self) -> Option<WriterOutput<'_>> {
        self.release();
        if let Some(seal) = self.sealed {
            self.lent = true;
            let body = if self.a_is_open {
                &self.buf_b
            } else {
                &self.buf_a
            };
            return Some(WriterOutput::Block(BlockRef {
                header: seal.header,
                body_hash: seal.body_hash,
                signature: seal.signature,
                body: body.as_slice(),
            }));
        }
        self.anchor.take().map(WriterOutput::Anchor)
    }

    /// Free the sealed slot once its block has been lent to the host.
    fn release(&mut self) {
        if self.lent {
            self.lent = false;
            self.sealed = None;
            if self.a_is_open {
                self.buf_b.clear();
            } else {
                self.buf_a.clear();
            }
        }
    }

    fn open_len(&self) -> usize {
        if self.a_is_open {
            self.buf_a.len()
        } else {
            self.buf_b.len()
        }
    }

    fn advance(&mut self, now: Timestamp) {
        if self.next_boundary.is_none() {
            self.next_boundary = Some(self.schedule.upload_boundary_after(now));
        }
        if let Some(m) = self.meta {
            if now >= m.seal_at {
                if self.sealed.is_some() || self.next_index == u64::MAX {
                    return; // deferred until the host drains the sealed block
                }
                self.seal_open();
            }
        }
        let Some(boundary) = self.next_boundary else {
            return;
        };
        if now < boundary {
            return;
        }
        if self.meta.is_some_and(|m| m.first < boundary) {
            return; // a block before the boundary is still unsealed
        }
        let through = self.schedule.upload_boundary_at_or_before(now);
        if let Some(last) = self.next_index.checked_sub(1) {
            if self.anchored.is_none_or(|a| a < last) {
                let anchor = Anchor::sign(self.stream, last, self.head, through, &self.device);
                if self.anchor.replace(anchor).is_some() {
                    self.stats.anchors_superseded += 1;
                }
                self.anchored = Some(last);
                self.stats.anchors += 1;
            }
        }
        self.next_boundary = Some(self.schedule.upload_boundary_after(through));
    }

    /// Seal the open block into the sealed slot. Callers ensure there is an open block, the
    /// slot is free and an index is left.
    fn seal_open(&mut self) {
        let Some(meta) = self.meta else {
            return;
        };
        let interval = self.schedule.interval_of(meta.first);
        let key = match self.key.take() {
            Some(k) if k.interval() == interval => k,
            _ => derive_interval_key(&self.master, &self.stream, interval),
        };
        let header = BlockHeader {
            stream: self.stream,
            index: self.next_index,
            prev: self.head,
            first_time: meta.first,
            last_time: meta.last,
            record_count: meta.count,
            interval,
            key_id: key.id(),
            salt: self.salt,
        };
        let (open, spare) = if self.a_is_open {
            (&mut self.buf_a, &mut self.buf_b)
        } else {
            (&mut self.buf_b, &mut self.buf_a)
        };
        // Cannot fail: the open block never holds more than BLOCK_CAP − TAG_LEN bytes, and on
        // error the buffer is unchanged.
        if let Ok(seal) = seal_in_place(header, open, &key, &self.device) {
            spare.clear();
            self.head = seal.id;
            self.next_index = self.next_index.saturating_add(1);
            self.sealed = Some(seal);
            self.a_is_open = !self.a_is_open;
            self.stats.blocks += 1;
        }
        self.meta = None;
        self.key = Some(key);
    }
}

/// The interval key, derived outside [`Writer::seal_open`]'s frame: never inlined, so that
/// the HKDF state (about 2.3 KiB on a Cortex-M4 at opt-level "z") is off the stack before the
/// block signature's scalar multiplication (about 11 KiB) starts (docs/BENCHMARKS.md,
/// "Firmware").
#[inline(never)]
fn derive_interval_key(master: &MasterSecret, stream: &StreamId, interval: u64) -> IntervalKey {
    master.interval_key(stream, interval)
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); the inherent methods of the
/// same names are what this calls, so code that does not import the trait keeps working.
impl<const BLOCK_CAP: usize> Machine for Writer<BLOCK_CAP> {
    type Output<'a> = WriterOutput<'a>;
    type Stats = WriterStats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Writer::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Writer::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<WriterOutput<'_>> {
        Writer::poll_output(self)
    }

    fn stats(&self) -> WriterStats {
        Writer::stats(self)
    }
}
