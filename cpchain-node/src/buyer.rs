//! The buyer's path (issue 15 item 5), its checks and its output, on library parts: which
//! anchors bracket the bought interval, the walk back from the closing anchor's head
//! through the DHT ([`Walk`], sans-IO: the caller fetches each block's key-index record and
//! shards and hands the reassembled block in), the verification of those blocks against
//! the device key and the anchors found on chain, decryption with the interval key the
//! proxies' cfrags opened, and the readings as CSV ([`write_csv`]).
//!
//! # What the buyer trusts
//!
//! Only the chain: the device key registered for the stream and the anchors carried by
//! committed blocks. Key-index records and shards come from any storage node; a record
//! must name the block asked for, `reassemble` checks the block against the record, and
//! the verifier checks every block's signature, link and position from the anchor before
//! the interval to the anchor after it, so a storage node can withhold but not alter.
//!
//! # The CSV
//!
//! One line per reading of the interval, in chain order: `time_ms,reading`, where
//! `time_ms` is the record's Unix time in milliseconds and `reading` its bytes as UTF-8
//! text, quoted as RFC 4180 says when it holds a comma, a quote or a line break. When any
//! reading of the interval is not UTF-8 the whole file is `time_ms,reading_hex` with each
//! reading in lowercase hex, so every file reads back to the exact bytes.

use cpchain_core::Timestamp;
use cpchain_crypto::PublicKey;
use cpchain_storage::{
    open_block_to_vec, Anchor, BlockId, ChainVerifier, Checkpoint, IntervalKey, Schedule, StreamId,
    VecBlock, VerifyError,
};

/// Most blocks a buyer walks for one interval (an interval of e at one block per T holds
/// e / T blocks; this bounds the walk whatever the links and anchors say).
pub const MAX_WALK_BLOCKS: usize = 1 << 16;

/// Why the buyer could not deliver the interval's readings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuyError {
    /// No anchor on chain closes the interval yet (its data is not all uploaded).
    #[error("no anchor on chain closes interval {interval}")]
    NotClosed {
        /// The interval.
        interval: u64,
    },
    /// The walk back from the closing anchor did not reach the interval's first block
    /// within [`MAX_WALK_BLOCKS`], or a block is not where the chain says.
    #[error("the chain walk broke at block index {index}")]
    Walk {
        /// The index reached.
        index: u64,
    },
    /// A block failed verification against the device key and the anchors.
    #[error("verify: {0}")]
    Verify(VerifyError),
    /// The closing anchor's head is not the last block verified.
    #[error("the blocks do not end at the anchored head")]
    HeadMismatch,
    /// The key does not open the interval's blocks.
    #[error("open: {0}")]
    Open(VerifyError),
}

/// The anchors that bracket `interval` among a stream's anchors found on chain (already
/// checked against the device key): the last one at or before the interval's start (none:
/// the interval starts at the chain's genesis) and the first one at or after its end.
pub fn bracket(
    anchors: &[Anchor],
    schedule: &Schedule,
    interval: u64,
) -> Result<(Option<Anchor>, Anchor), BuyError> {
    let e = schedule.encryption_interval().as_millis();
    let start = Timestamp(interval.saturating_mul(e));
    let end = Timestamp(interval.saturating_add(1).saturating_mul(e));
    let before = anchors
        .iter()
        .filter(|a| a.through <= start)
        .max_by_key(|a| a.last_index)
        .copied();
    let after = anchors
        .iter()
        .filter(|a| a.through >= end)
        .min_by_key(|a| a.last_index)
        .copied()
        .ok_or(BuyError::NotClosed { interval })?;
    Ok((before, after))
}

/// The walk back from the closing anchor's head to the block after the opening anchor:
/// ask [`Walk::want`], fetch that block (its key-index record by id, then its shards,
/// `reassemble`), [`Walk::push`] it; when `want` says `None`, [`Walk::blocks`] are the run
/// in chain order.
#[derive(Debug)]
pub struct Walk {
    next: Option<BlockId>,
    first_index: u64,
    blocks: Vec<VecBlock>,
}

impl Walk {
    /// A walk from `end.head` down to index `first_index`.
    pub fn new(end: &Anchor, first_index: u64) -> Walk {
        Walk {
            next: Some(end.head),
            first_index,
            blocks: Vec::new(),
        }
    }

    /// The block to fetch next (`None`: done).
    pub fn want(&self) -> Option<BlockId> {
        self.next
    }

    /// Hand in the block that [`Walk::want`] named; a block with another id, or a walk
    /// longer than [`MAX_WALK_BLOCKS`], is refused.
    pub fn push(&mut self, block: VecBlock) -> Result<(), BuyError> {
        let index = block.header.index;
        if Some(block.id()) != self.next || self.blocks.len() >= MAX_WALK_BLOCKS {
            return Err(BuyError::Walk { index });
        }
        self.next = if index <= self.first_index {
            None
        } else {
            Some(block.header.prev)
        };
        if index < self.first_index {
            return Err(BuyError::Walk { index });
        }
        self.blocks.push(block);
        Ok(())
    }

    /// The blocks, oldest first (complete once [`Walk::want`] is `None`).
    pub fn blocks(mut self) -> Vec<VecBlock> {
        self.blocks.reverse();
        self.blocks
    }
}

/// What the chain says about a stream: its id, the device key that signs its blocks and
/// anchors, and its T, e and u.
#[derive(Debug, Clone, Copy)]
pub struct OnChainStream {
    /// The stream.
    pub stream: StreamId,
    /// Its device key.
    pub device: PublicKey,
    /// Its schedule.
    pub schedule: Schedule,
}

/// One reading of the bought interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// When it was recorded (Unix ms).
    pub time_ms: u64,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Verify `blocks` (the run between the anchors, oldest first) against the device key and
/// the anchors, then open the blocks of `interval` with `key`; readings in chain order.
/// Blocks of other intervals in the run are verified (they link the chain) but not opened.
pub fn open_interval(
    on_chain: &OnChainStream,
    start: Option<&Anchor>,
    end: &Anchor,
    blocks: &[VecBlock],
    interval: u64,
    key: &IntervalKey,
) -> Result<Vec<Reading>, BuyError> {
    let OnChainStream {
        stream,
        device,
        schedule,
    } = *on_chain;
    let mut verifier = match start {
        Some(a) => ChainVerifier::resume(
            stream,
            device,
            schedule,
            Checkpoint {
                next_index: a.last_index.saturating_add(1),
                head: a.head,
                last_time: a.through,
            },
        ),
        None => ChainVerifier::new(stream, device, schedule),
    };
    verifier.check_anchor(end).map_err(BuyError::Verify)?;
    if let Some(a) = start {
        verifier.check_anchor(a).map_err(BuyError::Verify)?;
    }
    for b in blocks {
        verifier.verify_block(b).map_err(BuyError::Verify)?;
    }
    if verifier.head() != end.head || verifier.next_index() != end.last_index.saturating_add(1) {
        return Err(BuyError::HeadMismatch);
    }
    let mut out = Vec::new();
    for b in blocks.iter().filter(|b| b.header.interval == interval) {
        let opened = open_block_to_vec(b, key).map_err(BuyError::Open)?;
        out.extend(opened.records().map(|r| Reading {
            time_ms: r.time.as_millis(),
            data: r.data.to_vec(),
        }));
    }
    Ok(out)
}

/// Write `readings` as CSV (see the module docs for the format).
pub fn write_csv(readings: &[Reading], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let text: Option<Vec<&str>> = readings
        .iter()
        .map(|r| std::str::from_utf8(&r.data).ok())
        .collect();
    match text {
        Some(texts) => {
            writeln!(out, "time_ms,reading")?;
            for (r, t) in readings.iter().zip(texts) {
                if t.contains([',', '"', '\r', '\n']) {
                    writeln!(out, "{},\"{}\"", r.time_ms, t.replace('"', "\"\""))?;
                } else {
                    writeln!(out, "{},{t}", r.time_ms)?;
                }
            }
        }
        None => {
            writeln!(out, "time_ms,reading_hex")?;
            for r in readings {
                writeln!(out, "{},{}", r.time_ms, hex::encode(&r.data))?;
            }
        }
    }
    Ok(())
}
