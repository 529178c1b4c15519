//! Reading a data chain: verify it against its device key and anchors, then decrypt.
//!
//! * [`ChainVerifier`] checks blocks one at a time, in order, with O(1) memory (a storage node
//!   or a firmware reader). It keeps the head, the next index and the last time; on any
//!   error it is unchanged, so the caller can skip a bad block and go on.
//! * [`verify_chain`] checks a whole run of blocks against a set of anchors. Because it sees
//!   the whole slice it can tell a reorder (the missing block comes later) from a drop, and a
//!   replay (same block again) from a conflicting block (a fork signed by the device).
//! * [`open_block`] decrypts one block into a caller's scratch buffer (no allocation) and
//!   returns its records, after checking the key against the header's key id.
//!
//! Every check runs authenticity first (body hash, then the device signature), so the
//! positional verdicts ([`VerifyError::MissingBlock`], [`VerifyError::Replayed`], ...) are
//! only ever given about blocks the device really signed.
//!
//! The verifier's `Err` is its verdict, not a caller mistake: this is a pure checker, not a
//! peer-facing state machine, so there is no `Fault` output; the offending block (and, for
//! [`VerifyError::ConflictingBlock`], the two blocks) is the evidence.

use crate::anchor::Anchor;
use crate::block::{xopen_detached, Block, BlockBody, BlockHeader, BlockId, Records, StreamId};
use crate::keys::{IntervalKey, KeyRing};
use crate::schedule::Schedule;
use crate::writer::Checkpoint;
use crate::VerifyError;
use cpchain_core::Timestamp;
use cpchain_crypto::aead::TAG_LEN;
use cpchain_crypto::PublicKey;

/// Streaming verifier of one stream's chain.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    stream: StreamId,
    device: PublicKey,
    schedule: Schedule,
    next_index: u64,
    head: BlockId,
    last_time: Timestamp,
}

impl ChainVerifier {
    /// A verifier expecting block 0 of `stream`, signed by `device`, under `schedule`.
    pub fn new(stream: StreamId, device: PublicKey, schedule: Schedule) -> ChainVerifier {
        Self::resume(stream, device, schedule, Checkpoint::GENESIS)
    }

    /// A verifier continuing from a trusted position (for example an anchor already checked).
    pub fn resume(
        stream: StreamId,
        device: PublicKey,
        schedule: Schedule,
        from: Checkpoint,
    ) -> ChainVerifier {
        ChainVerifier {
            stream,
            device,
            schedule,
            next_index: from.next_index,
            head: from.head,
            last_time: from.last_time,
        }
    }

    /// Index the verifier expects next (= number of blocks verified, from genesis).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Id of the last verified block (all zero before the first).
    pub fn head(&self) -> BlockId {
        self.head
    }

    /// The stream.
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    /// Check an anchor's stream and signature (its coverage is checked by [`verify_chain`]).
    pub fn check_anchor(&self, anchor: &Anchor) -> Result<(), VerifyError> {
        anchor.verify(&self.device)?;
        if anchor.stream != self.stream {
            return Err(VerifyError::AnchorWrongStream {
                index: anchor.last_index,
            });
        }
        Ok(())
    }

    /// Verify the next block and advance; returns its id. On `Err` nothing changes.
    ///
    /// A block ahead of the expected index gives [`VerifyError::MissingBlock`], one behind
    /// gives [`VerifyError::Replayed`] ([`verify_chain`] refines both).
    pub fn verify_block<B: BlockBody>(&mut self, block: &Block<B>) -> Result<BlockId, VerifyError> {
        let id = block.authenticate(&self.device)?;
        let h = &block.header;
        let index = h.index;
        if h.stream != self.stream {
            return Err(VerifyError::WrongStream { index });
        }
        if index > self.next_index {
            return Err(VerifyError::MissingBlock {
                expected: self.next_index,
                found: index,
            });
        }
        if index < self.next_index {
            return Err(VerifyError::Replayed { index });
        }
        if h.prev != self.head {
            return Err(VerifyError::BrokenLink { index });
        }
        self.check_header(h, block.body.as_ref().len())?;
        if index > 0 && h.first_time < self.last_time {
            return Err(VerifyError::TimeNotMonotonic { index });
        }
        self.next_index = index.saturating_add(1);
        self.head = id;
        self.last_time = h.last_time;
        Ok(id)
    }

    fn check_header(&self, h: &BlockHeader, body_len: usize) -> Result<(), VerifyError> {
        let index = h.index;
        let well_formed = h.record_count > 0
            && h.first_time <= h.last_time
            && self.schedule.period_of(h.first_time) == self.schedule.period_of(h.last_time)
            && body_len > TAG_LEN;
        if !well_formed {
            return Err(VerifyError::MalformedHeader { index });
        }
        if h.interval != self.schedule.interval_of(h.first_time) {
            return Err(VerifyError::IntervalMismatch { index });
        }
        Ok(())
    }
}

/// What a verified chain amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSummary {
    /// Position after the last verified block: resume a verifier or writer from here.
    pub checkpoint: Checkpoint,
    /// Highest anchored index among the anchors checked, if any.
    pub anchored: Option<u64>,
    /// Blocks whose key the key ring held and whose key id matched.
    pub keyed_blocks: u64,
}

/// Verify `blocks` (in the order received) from `verifier`'s position, against `anchors`,
/// checking each block's key id against `keys` where the ring holds its interval.
///
/// Detects, each with its own error: tampering ([`VerifyError::BodyTampered`],
/// [`VerifyError::BadSignature`]), reordering ([`VerifyError::Reordered`]), a dropped block
/// ([`VerifyError::MissingBlock`]), a replayed block ([`VerifyError::Replayed`]), a fork
/// ([`VerifyError::ConflictingBlock`], [`VerifyError::BrokenLink`]), truncation after an
/// anchor ([`VerifyError::TruncatedAfterAnchor`]), a substituted anchored block
/// ([`VerifyError::AnchorMismatch`]), backdating ([`VerifyError::BackdatedAfterAnchor`]) and a
/// block under the wrong interval's key ([`VerifyError::WrongIntervalKey`]).
///
/// Blocks after the last anchor are verified but their absence cannot be detected: only the
/// anchored prefix is guaranteed complete.
pub fn verify_chain<B: BlockBody, K: KeyRing + ?Sized>(
    mut verifier: ChainVerifier,
    anchors: &[Anchor],
    blocks: &[Block<B>],
    keys: &K,
) -> Result<ChainSummary, VerifyError> {
    let start = verifier.next_index;
    for a in anchors {
        verifier.check_anchor(a)?;
    }
    let mut keyed_blocks = 0u64;
    for (pos, block) in blocks.iter().enumerate() {
        let id = match verifier.verify_block(block) {
            Ok(id) => id,
            Err(VerifyError::MissingBlock { expected, found }) => {
                let later = blocks
                    .get(pos..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|b| b.header.index == expected);
                return Err(if later {
                    VerifyError::Reordered { expected, found }
                } else {
                    VerifyError::MissingBlock { expected, found }
                });
            }
            Err(VerifyError::Replayed { index }) => {
                // Accepted blocks are blocks[0..pos] with indices start.., in order.
                let accepted = index
                    .checked_sub(start)
                    .and_then(|o| usize::try_from(o).ok())
                    .and_then(|o| blocks.get(o));
                return Err(match accepted {
                    Some(a) if a.id() != block.id() => VerifyError::ConflictingBlock { index },
                    _ => VerifyError::Replayed { index },
                });
            }
            Err(e) => return Err(e),
        };
        let h = &block.header;
        if let Some(k) = keys.interval_key(&h.stream, h.interval) {
            if k.id() != h.key_id {
                return Err(VerifyError::WrongIntervalKey {
                    index: h.index,
                    interval: h.interval,
                });
            }
            keyed_blocks += 1;
        }
        for a in anchors {
            if a.last_index == h.index && a.head != id {
                return Err(VerifyError::AnchorMismatch { index: h.index });
            }
            if a.last_index < h.index && h.first_time < a.through {
                return Err(VerifyError::BackdatedAfterAnchor { index: h.index });
            }
        }
    }
    let have = verifier.next_index;
    let mut anchored = None;
    for a in anchors {
        if a.last_index >= have {
            return Err(VerifyError::TruncatedAfterAnchor {
                anchored: a.last_index,
                have,
            });
        }
        anchored = anchored.max(Some(a.last_index));
    }
    Ok(ChainSummary {
        checkpoint: Checkpoint {
            next_index: have,
            head: verifier.head,
            last_time: verifier.last_time,
        },
        anchored,
        keyed_blocks,
    })
}

/// Decrypt `block` with `key` into `scratch` (at least the body's length) and return its
/// records, validated against the header. Does not check the signature or the chain: run the
/// verifier first.
///
/// A key of another interval or stream, or whose commitment differs from the header's key
/// id, gives [`VerifyError::WrongIntervalKey`] before any decryption is attempted.
pub fn open_block<'s, B: BlockBody>(
    block: &Block<B>,
    key: &IntervalKey,
    scratch: &'s mut [u8],
) -> Result<Records<'s>, VerifyError> {
    let h = &block.header;
    let index = h.index;
    if key.stream() != &h.stream || key.interval() != h.interval || key.id() != h.key_id {
        return Err(VerifyError::WrongIntervalKey {
            index,
            interval: h.interval,
        });
    }
    let body = block.body.as_ref();
    let ct_len = body
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(VerifyError::MalformedHeader { index })?;
    let (ct, tag) = body
        .split_at_checked(ct_len)
        .ok_or(VerifyError::MalformedHeader { index })?;
    let tag: &[u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| VerifyError::MalformedHeader { index })?;
    let buf = scratch
        .get_mut(..ct_len)
        .ok_or(VerifyError::ScratchTooSmall)?;
    for (d, s) in buf.iter_mut().zip(ct) {
        *d = *s;
    }
    let hb = h.to_bytes();
    xopen_detached(key.aead_key(), &h.nonce(), hb.as_slice(), buf, tag)
        .map_err(|_| VerifyError::DecryptFailed { index })?;
    Records::parse(buf, h).ok_or(VerifyError::MalformedRecords { index })
}

/// Verify the whole run of `blocks` against `anchors` first, then decrypt every block whose
/// interval `keys` holds and hand its records to `on_record`, in chain order. Nothing is
/// delivered unless the whole run verifies. Blocks of intervals the ring lacks are verified
/// but skipped (a grantee of some intervals reads just those).
#[cfg(feature = "alloc")]
pub fn read_chain<B: BlockBody, K: KeyRing + ?Sized>(
    verifier: ChainVerifier,
    anchors: &[Anchor],
    blocks: &[Block<B>],
    keys: &K,
    mut on_record: impl FnMut(&BlockHeader, crate::block::Record<'_>),
) -> Result<ChainSummary, VerifyError> {
    let summary = verify_chain(verifier, anchors, blocks, keys)?;
    let mut scratch = alloc::vec::Vec::new();
    for b in blocks {
        if let Some(key) = keys.interval_key(&b.header.stream, b.header.interval) {
            scratch.resize(b.body.as_ref().len(), 0);
            for r in open_block(b, &key, &mut scratch)? {
                on_record(&b.header, r);
            }
        }
    }
    Ok(summary)
}

/// Decrypt `block` into a new buffer; see [`open_block`].
#[cfg(feature = "alloc")]
pub fn open_block_to_vec<B: BlockBody>(
    block: &Block<B>,
    key: &IntervalKey,
) -> Result<OpenedBlock, VerifyError> {
    let mut plaintext = alloc::vec![0u8; block.body.as_ref().len()];
    open_block(block, key, &mut plaintext)?;
    plaintext.truncate(block.body.as_ref().len().saturating_sub(TAG_LEN));
    Ok(OpenedBlock {
        header: block.header,
        plaintext,
    })
}

/// A decrypted block (host convenience).
#[cfg(feature = "alloc")]
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedBlock {
    /// The block's header.
    pub header: BlockHeader,
    plaintext: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl core::fmt::Debug for OpenedBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedBlock")
            .field("header", &self.header)
            .field("plaintext_len", &self.plaintext.len())
            .finish()
    }
}

#[cfg(feature = "alloc")]
impl OpenedBlock {
    /// The records, in order (validated when the block was opened).
    pub fn records(&self) -> Records<'_> {
        Records::from_validated(&self.plaintext, self.header.first_time)
    }
}
