//! What a validator holds on behalf of peers, and its bounds (issue 12, item 1).
//!
//! Three byte budgets of [`Config`] cover everything that can be large, because it carries
//! a block:
//!
//! * **the future buffer** (`FutureBuffer`): messages for heights `h + 1 ..= h +
//!   future_heights`. Nothing enters it unauthenticated (`authenticate_future`): a vote
//!   or round change must be signed by a member, a proposal by the leader of its height and
//!   round (with a proof-of-lock quorum, or the empty impeach body), a PRE-PREPARE sealed by
//!   the scheduled proposer of its height, a VALIDATE carry a commit quorum. Each
//!   authenticated sender has a quota ([`Config::future_sender_messages`],
//!   [`Config::future_sender_bytes`]): one slot per member, one PRE-PREPARE and one
//!   VALIDATE per height. The whole buffer is capped by [`Config::future_buffer`] messages
//!   and [`Config::future_bytes`] bytes.
//! * **blocks of the current height** (proposals, locks, their copies in proposals):
//!   [`Config::height_bytes`].
//! * **recent VALIDATEs** kept for catch-up: [`Config::catch_up_bytes`] (the newest one is
//!   always kept: a validator one height behind needs it).
//!
//! Everything else a peer can make the validator keep is small and counted: at most `2n`
//! votes and `n` round changes per round entered (the lookahead rounds included), one
//! proposal per round, `n + 1` P-certificates per round, `n × catch_up_heights` catch-up
//! answers. [`Config::peer_memory_bound`] adds it all up.
//!
//! Sizes are heap bytes as this crate allocates them (capacity × element size, see
//! [`heap_of_message`]), plus the inline size of each entry, so they are exact for the
//! blocks and a close estimate elsewhere; the formula adds slack for B-tree nodes, and the
//! counting-allocator test `flood_from_outsider_and_f_byzantine_stays_within_the_bound`
//! checks it against what the allocator really holds.

use super::block::{Block, MAX_BODY_HEAP};
use super::config::Config;
use super::error::{CertificateError, Rejected};
use super::message::{LockProof, Message, Proposal, Validate};
use super::round::leader;
use super::schedule::ProposerSchedule;
use super::validator::Stats;
use super::vote::{Certificate, Phase, Vote, VoteKind};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::mem::size_of;
use cpchain_core::{Address, Height};
use cpchain_crypto::Signature;

/// Heap bytes of a block: its transaction list and each transaction's bytes.
pub fn heap_of_block(block: &Block) -> usize {
    block.transactions.iter().fold(
        block
            .transactions
            .capacity()
            .saturating_mul(size_of::<Vec<u8>>()),
        |acc, tx| acc.saturating_add(tx.capacity()),
    )
}

/// Heap bytes of a certificate's signature list.
pub fn heap_of_certificate(cert: &Certificate) -> usize {
    cert.signatures
        .capacity()
        .saturating_mul(size_of::<(Address, Signature)>())
}

/// Heap bytes of a proposal: its block and proof-of-lock.
pub fn heap_of_proposal(p: &Proposal) -> usize {
    heap_of_block(&p.block).saturating_add(p.proof_of_lock.as_ref().map_or(0, heap_of_certificate))
}

fn heap_of_lock(l: &LockProof) -> usize {
    heap_of_block(&l.block).saturating_add(heap_of_certificate(&l.certificate))
}

fn heap_of_validate(v: &Validate) -> usize {
    heap_of_block(&v.block).saturating_add(heap_of_certificate(&v.certificate))
}

/// Heap bytes of a message (not counting the message itself).
pub fn heap_of_message(msg: &Message) -> usize {
    match msg {
        Message::PrePrepare(b) => heap_of_block(b),
        Message::Proposal(p) => heap_of_proposal(p),
        Message::Vote(_) => 0,
        Message::RoundChange(rc) => rc.lock.as_ref().map_or(0, heap_of_lock),
        Message::Validate(v) => heap_of_validate(v),
    }
}

/// Bytes a message costs in the future buffer: inline entry plus heap.
pub fn held_in_buffer(msg: &Message) -> usize {
    size_of::<Entry>().saturating_add(heap_of_message(msg))
}

/// Who a buffered message is charged to: the sender that authenticated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    /// A committee member (index in address order): votes, round changes, proposals.
    Member(usize),
    /// The scheduled proposer's sealed PRE-PREPARE for this height (one kept).
    Sealed(Height),
    /// A VALIDATE with a commit quorum for this height (one kept).
    Certified(Height),
}

#[derive(Debug)]
struct Entry {
    from: Address,
    slot: Slot,
    bytes: usize,
    msg: Message,
}

/// The future-height buffer with per-sender quotas and byte budgets.
#[derive(Debug, Default)]
pub(crate) struct FutureBuffer {
    entries: VecDeque<Entry>,
    bytes: usize,
    /// Per slot: (messages, bytes) held.
    used: BTreeMap<Slot, (usize, usize)>,
}

impl FutureBuffer {
    /// Bytes held (entries' inline size plus heap).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Keep `msg`, charged to `slot`, if every quota allows it; otherwise
    /// [`Rejected::BufferFull`] and nothing changes.
    pub(crate) fn push(
        &mut self,
        cfg: &Config,
        from: Address,
        slot: Slot,
        msg: Message,
    ) -> Result<(), Rejected> {
        let bytes = held_in_buffer(&msg);
        let (count, used) = self.used.get(&slot).copied().unwrap_or((0, 0));
        let count_cap = match slot {
            Slot::Member(_) => cfg.future_sender_messages,
            Slot::Sealed(_) | Slot::Certified(_) => 1,
        };
        let fits = count < count_cap
            && used.saturating_add(bytes) <= cfg.future_sender_bytes
            && self.entries.len() < cfg.future_buffer
            && self.bytes.saturating_add(bytes) <= cfg.future_bytes;
        if !fits {
            return Err(Rejected::BufferFull);
        }
        self.used
            .insert(slot, (count.saturating_add(1), used.saturating_add(bytes)));
        self.bytes = self.bytes.saturating_add(bytes);
        self.entries.push_back(Entry {
            from,
            slot,
            bytes,
            msg,
        });
        Ok(())
    }

    fn release(&mut self, slot: Slot, bytes: usize) {
        if let Some((c, b)) = self.used.get_mut(&slot) {
            *c = c.saturating_sub(1);
            *b = b.saturating_sub(bytes);
            if *c == 0 {
                self.used.remove(&slot);
            }
        }
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    /// Drop everything below `height`; take out the first message for `height`.
    pub(crate) fn take(&mut self, height: Height) -> Option<(Address, Message)> {
        let mut released = Vec::new();
        self.entries.retain(|e| {
            let keep = e.msg.height() >= height;
            if !keep {
                released.push((e.slot, e.bytes));
            }
            keep
        });
        for (slot, bytes) in released {
            self.release(slot, bytes);
        }
        let pos = self.entries.iter().position(|e| e.msg.height() == height)?;
        let e = self.entries.remove(pos)?;
        self.release(e.slot, e.bytes);
        if self.entries.is_empty() {
            // Give the ring's memory back once a burst is over.
            self.entries.shrink_to_fit();
        }
        Some((e.from, e.msg))
    }
}

/// Check that `msg`, for a future height, could only have been sent by whom it claims, and
/// name the slot to charge it to. Stateless apart from the committee and the schedule (the
/// parent of a future height is unknown): the full checks run again when the height comes.
pub(crate) fn authenticate_future<S: ProposerSchedule>(
    cfg: &Config,
    schedule: &S,
    stats: &mut Stats,
    msg: &Message,
) -> Result<Slot, Rejected> {
    let set = &cfg.validators;
    let chain = cfg.spec.chain_id;
    let h = msg.height();
    match msg {
        Message::Vote(v) => {
            let idx = set.index_of(&v.voter).ok_or(Rejected::NotMember)?;
            if v.round > cfg.round_lookahead {
                return Err(Rejected::TooFarAhead);
            }
            stats.verifies = stats.verifies.saturating_add(1);
            v.verify(chain, set).map_err(|_| Rejected::BadSignature)?;
            Ok(Slot::Member(idx))
        }
        Message::RoundChange(rc) => {
            // Any round: a round change from far ahead is the round catch-up's input when
            // its height comes (one number per member then); the quota bounds the count.
            let idx = set.index_of(&rc.voter).ok_or(Rejected::NotMember)?;
            stats.verifies = stats.verifies.saturating_add(1);
            rc.verify(chain, set).map_err(|_| Rejected::BadSignature)?;
            if let Some(lock) = &rc.lock {
                check_quorum(
                    cfg,
                    stats,
                    &lock.block,
                    &lock.certificate,
                    h,
                    Phase::Prepare,
                )?;
                if lock.certificate.round >= rc.round {
                    return Err(Rejected::Certificate(CertificateError::Mismatch));
                }
            }
            Ok(Slot::Member(idx))
        }
        Message::Proposal(p) => {
            if p.round == 0 || p.round > cfg.round_lookahead {
                return Err(Rejected::TooFarAhead);
            }
            if leader(set, h, p.round) != Some(p.leader) {
                return Err(Rejected::NotMember);
            }
            let idx = set.index_of(&p.leader).ok_or(Rejected::NotMember)?;
            stats.verifies = stats.verifies.saturating_add(1);
            p.verify(chain, set).map_err(|_| Rejected::BadSignature)?;
            match &p.proof_of_lock {
                Some(cert) => {
                    check_quorum(cfg, stats, &p.block, cert, h, Phase::Prepare)?;
                    if cert.round >= p.round {
                        return Err(Rejected::Certificate(CertificateError::Mismatch));
                    }
                }
                // Without a proof-of-lock only the impeach block may be proposed: empty.
                None if looks_impeach(&p.block) => {}
                None => return Err(Rejected::Unexpected),
            }
            Ok(Slot::Member(idx))
        }
        Message::PrePrepare(b) => {
            if b.is_impeach() || schedule.proposer_of(h) != Some(b.header.proposer) {
                return Err(Rejected::Block(super::error::BlockError::WrongProposer));
            }
            stats.recoveries = stats.recoveries.saturating_add(1);
            b.verify_seal().map_err(Rejected::Block)?;
            Ok(Slot::Sealed(h))
        }
        Message::Validate(v) => {
            check_quorum(cfg, stats, &v.block, &v.certificate, h, Phase::Commit)?;
            if !v.block.is_impeach() {
                stats.recoveries = stats.recoveries.saturating_add(1);
                v.block.verify_seal().map_err(Rejected::Block)?;
            }
            Ok(Slot::Certified(h))
        }
    }
}

/// An impeach block as far as can be told without its parent: zero coinbase, no seal, no
/// transactions.
fn looks_impeach(b: &Block) -> bool {
    b.is_impeach() && b.seal.is_none() && b.transactions.is_empty()
}

/// `cert` is a quorum of `phase` votes on `block` at height `h`, by distinct members.
fn check_quorum(
    cfg: &Config,
    stats: &mut Stats,
    block: &Block,
    cert: &Certificate,
    h: Height,
    phase: Phase,
) -> Result<(), Rejected> {
    let impeach = block.is_impeach();
    if impeach && !looks_impeach(block) {
        return Err(Rejected::Block(
            super::error::BlockError::NotTheImpeachBlock,
        ));
    }
    if cert.kind != VoteKind::of(phase, impeach) || cert.height != h || cert.block != block.id() {
        return Err(Rejected::Certificate(CertificateError::Mismatch));
    }
    let quorum = if impeach {
        cfg.validators.impeach_quorum(cfg.impeach_quorum)
    } else {
        cfg.validators.quorum()
    };
    let r = cert.verify(cfg.spec.chain_id, &cfg.validators, quorum);
    let counted = match r {
        Ok(n) => n,
        Err(CertificateError::BadSignature) => cert.signatures.len(),
        Err(_) => 0,
    };
    stats.verifies = stats.verifies.saturating_add(counted as u64);
    r.map(|_| ()).map_err(Rejected::Certificate)
}

/// What a validator holds on behalf of peers now, by budget (see [`Config::peer_memory_bound`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Future buffer: entries' inline size plus heap (≤ [`Config::future_bytes`]).
    pub future: usize,
    /// Heap of the current height's blocks, proposals and P-certificates (blocks and
    /// proposals ≤ [`Config::height_bytes`]).
    pub height: usize,
    /// Heap of the recent VALIDATEs (≤ [`Config::catch_up_bytes`], or the newest one).
    pub catch_up: usize,
    /// Entries of the counted structures: votes, tallies, round changes, proposals,
    /// P-certificates, catch-up answers, future messages.
    pub entries: usize,
}

/// Generous bytes per entry of a counted structure, B-tree node slack included (a leaf
/// holds 11 slots and may be filled to 5; a `VecDeque` may be twice its length).
pub(crate) const fn entry_cost(inline: usize) -> usize {
    inline.saturating_mul(3).saturating_add(64)
}

impl Config {
    /// The most heap a validator with this configuration and `n` members holds on behalf of
    /// peers while at most `rounds` rounds have been entered at its current height
    /// (`rounds ≥ 1`; the lookahead rounds are added here), whatever peers send:
    ///
    /// ```text
    /// future_bytes + future_buffer × E(entry) + 2 × (n + 2·future_heights) × E(slot)
    /// + height_bytes + (rounds + L) × (n + 1) × (C + E(cert))       C = n × 88 B of signatures
    /// + max(catch_up_bytes, MAX_BODY_HEAP + C) + catch_up_heights × E(Validate)
    /// + (rounds + L) × (2n × (E(vote) + E(tally)) + n × E(rc) + E(proposal))
    /// + n × catch_up_heights × E(helped) + n × 8
    /// ```
    ///
    /// with `L = round_lookahead + 1` and `E(x) = 3 × size_of(x) + 64`. At the defaults and
    /// `n = 7`, in round 0 (`rounds = 1`): about 37 MiB (test
    /// `default_bound_at_n7_is_below_64_mib`). The output queue is not counted: the host
    /// drains it after every input (its largest item, a `CheckBlock`, holds the block and
    /// its leaves, at most [`MAX_LEAVES_HEAP`](super::block::MAX_LEAVES_HEAP) = 2 MiB more).
    pub fn peer_memory_bound(&self, n: usize, rounds: u32) -> usize {
        let l = usize::try_from(self.round_lookahead)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let r = usize::try_from(rounds)
            .unwrap_or(usize::MAX)
            .saturating_add(l);
        let fh = usize::try_from(self.future_heights).unwrap_or(usize::MAX);
        let ch = usize::try_from(self.catch_up_heights).unwrap_or(usize::MAX);
        let cert = n.saturating_mul(size_of::<(Address, Signature)>());
        let future = self
            .future_bytes
            .saturating_add(
                self.future_buffer
                    .saturating_mul(entry_cost(size_of::<Entry>())),
            )
            .saturating_add(
                n.saturating_add(fh.saturating_mul(2))
                    .saturating_mul(2)
                    .saturating_mul(entry_cost(size_of::<(Slot, (usize, usize))>())),
            );
        let height = self.height_bytes.saturating_add(
            r.saturating_mul(n.saturating_add(1))
                .saturating_mul(cert.saturating_add(entry_cost(size_of::<Certificate>()))),
        );
        let catch_up = self
            .catch_up_bytes
            .max(MAX_BODY_HEAP.saturating_add(cert))
            .saturating_add(ch.saturating_mul(entry_cost(size_of::<Validate>())));
        let per_round = n
            .saturating_mul(2)
            .saturating_mul(
                entry_cost(size_of::<Vote>()).saturating_add(entry_cost(size_of::<[u8; 48]>())),
            )
            .saturating_add(n.saturating_mul(entry_cost(size_of::<(u32, usize)>())))
            .saturating_add(entry_cost(size_of::<Proposal>()));
        let small = r
            .saturating_mul(per_round)
            .saturating_add(
                n.saturating_mul(ch)
                    .saturating_mul(entry_cost(size_of::<(Address, Height)>())),
            )
            .saturating_add(n.saturating_mul(8));
        future
            .saturating_add(height)
            .saturating_add(catch_up)
            .saturating_add(small)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// Issue 12: at the default `Config` and `n = 7` the bound is at most 64 MiB.
    #[test]
    fn default_bound_at_n7_is_below_64_mib() {
        let spec = cpchain_core::ChainSpec::devnet();
        let keys: Vec<_> = (1u8..=4)
            .map(|i| cpchain_crypto::SecretKey::from_bytes(&[i; 32]).unwrap())
            .collect();
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let set = super::super::ValidatorSet::new(&pubs).unwrap();
        let cfg = Config::new(spec, set, keys[0].clone());
        let bound = cfg.peer_memory_bound(7, 1);
        assert!(bound <= 64 << 20, "bound {bound}");
        assert!(bound >= cfg.future_bytes + cfg.height_bytes + cfg.catch_up_bytes);
        let per_round = cfg.peer_memory_bound(7, 2) - bound;
        std::println!("bound at n = 7, round 0: {bound} B; per further round: {per_round} B");
        assert!(per_round < 64 << 10, "per round {per_round}");
    }
}
