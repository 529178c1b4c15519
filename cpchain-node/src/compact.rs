//! Compact VALIDATEs on gossip: the header, seal and certificate of a decided block,
//! without its body (issue 14).
//!
//! LBFT 2.0 has every validator broadcast a VALIDATE (the block with its C-certificate)
//! once it decides (§2.4.2 step 5). Carried whole, that is each block body once more from
//! every validator: at n = 7 with 1 MiB blocks a node received the PRE-PREPARE and six
//! full VALIDATEs (7 MiB per block, gossipsub keeps only the first VALIDATE but only
//! after receiving, decrypting and parsing each), and each validator sent 6 MiB of
//! VALIDATEs per block. The bodies are what every node already holds: validators judged
//! the PRE-PREPARE (`CheckBlock`) and followers heard it gossiped.
//!
//! So the host gossips [`CompactValidate`] instead, and a receiver puts the body back
//! from its [`BodyCache`] (the blocks it judged, proposed or committed, keyed by block
//! id) before the engine sees a VALIDATE at all: the engine's contract and the wire form
//! of `lbft::Message` are unchanged, and every check (the body against the header's
//! `tx_root`, the certificate, the seal) is the engine's as before. A node that does not
//! hold the body (it missed the PRE-PREPARE, or restarted) keeps the compact VALIDATE in a
//! small pending slot and takes it once the body arrives, and falls back to block sync
//! (which serves whole blocks with their certificates) when the VALIDATE is for a height it
//! has not reached. Direct sends (catch-up help to one validator) stay whole.
//!
//! Gossip ids: compact VALIDATEs of one block share one id ([`gossip_id`], SHA-256 of the
//! block id under its own domain, [`crate::gossip_id`]), as whole VALIDATEs do (`network::validate_gossip_id`), and
//! the two ids differ, so a whole VALIDATE from an older node is never suppressed by a
//! compact one.
//!
//! Memory: the cache holds at most [`BODY_CACHE_BLOCKS`] bodies, each authenticated
//! before it is kept (judged by the engine, proposed by us, committed, or, at a follower,
//! sealed by the proposer the schedule names), each at most `lbft::MAX_BODY_HEAP` heap
//! bytes; the pending slots hold at most [`PENDING_COMPACT`] compact VALIDATEs of at most
//! [`CompactValidate`]'s `MAX_ENCODED_LEN` bytes each. Whatever a peer sends, these bounds
//! hold (`bounded_by_entry_counts_whatever_is_offered`).

use cpchain_consensus::lbft::block::EMPTY_TX_ROOT;
use cpchain_consensus::lbft::{Block, BlockId, Certificate, Header, Validate};
use cpchain_core::encoding::{self, WIRE_VERSION};
use cpchain_core::{Address, Hash, Height, WireMessage};
use cpchain_crypto::Signature;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A VALIDATE without its block body: what a validator gossips once it decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactValidate {
    /// The decided block's header (its id is what the certificate signs).
    pub header: Header,
    /// The proposer's seal (`None` on impeach blocks).
    pub seal: Option<Signature>,
    /// The C-certificate.
    pub certificate: Certificate,
}

impl WireMessage for CompactValidate {
    const TAG: u16 = 0x0a02;
    const MAX_ENCODED_LEN: usize = <Header as WireMessage>::MAX_ENCODED_LEN
        + 67
        + <Certificate as WireMessage>::MAX_ENCODED_LEN
        + 16;
}

impl CompactValidate {
    /// The compact form of `v` (its body left out).
    pub fn of(v: &Validate) -> Self {
        CompactValidate {
            header: v.block.header.clone(),
            seal: v.block.seal,
            certificate: v.certificate.clone(),
        }
    }

    /// The id of the block it decides.
    pub fn block_id(&self) -> BlockId {
        self.header.id()
    }

    /// The height it decides.
    pub fn height(&self) -> Height {
        self.header.height
    }

    /// The whole VALIDATE with `transactions` as its body. Nothing is checked here: the
    /// engine (or `lbft::verify_validate`) checks the body against the header.
    pub fn expand(self, transactions: Vec<Vec<u8>>) -> Validate {
        Validate {
            block: Block {
                header: self.header,
                seal: self.seal,
                transactions,
            },
            certificate: self.certificate,
        }
    }
}

/// Whether `data` is a [`CompactValidate`] encoding (by its envelope, not parsed).
pub fn is_compact(data: &[u8]) -> bool {
    let tag = CompactValidate::TAG.to_be_bytes();
    data.get(..3) == Some(&[WIRE_VERSION, tag[0], tag[1]][..])
}

/// The gossip message id of a compact VALIDATE on `topic`: one per block, whoever sent
/// it (see the module docs), SHA-256 of the block id under the compact domain
/// ([`crate::gossip_id::Kind::CompactValidate`]); `None` for anything else.
pub fn gossip_id(topic: &str, data: &[u8]) -> Option<Hash> {
    if !is_compact(data) {
        return None;
    }
    let rest = data.get(3..)?;
    let (header, _) = postcard::take_from_bytes::<Header>(rest).ok()?;
    Some(crate::gossip_id::hash(
        crate::gossip_id::Kind::CompactValidate,
        topic,
        &header.id().0,
    ))
}

/// Decode a gossiped compact VALIDATE (untrusted bytes).
pub fn decode(data: &[u8]) -> Result<CompactValidate, cpchain_core::DecodeError> {
    encoding::decode(data)
}

/// Bodies kept for compact VALIDATEs.
pub const BODY_CACHE_BLOCKS: usize = 6;

/// Compact VALIDATEs kept until their body arrives.
pub const PENDING_COMPACT: usize = 4;

/// The bodies of recent authenticated blocks, by id, and the compact VALIDATEs waiting
/// for one (see the module docs for what may enter and the bounds).
#[derive(Debug, Default)]
pub struct BodyCache {
    bodies: VecDeque<(BlockId, Vec<Vec<u8>>)>,
    /// `(relay, compact VALIDATE, seen at a tick already)`.
    pending: VecDeque<(Address, CompactValidate, bool)>,
}

impl BodyCache {
    /// Keep the body of an authenticated block (see the module docs), by its id; a body
    /// already kept is not kept twice. The oldest goes beyond [`BODY_CACHE_BLOCKS`].
    pub fn keep(&mut self, id: BlockId, transactions: Vec<Vec<u8>>) {
        if transactions.is_empty() || self.bodies.iter().any(|(k, _)| *k == id) {
            return;
        }
        if self.bodies.len() >= BODY_CACHE_BLOCKS {
            self.bodies.pop_front();
        }
        self.bodies.push_back((id, transactions));
    }

    /// Whether the body of `id` is kept.
    pub fn has(&self, id: &BlockId) -> bool {
        self.bodies.iter().any(|(k, _)| k == id)
    }

    fn body(&self, header: &Header) -> Option<Vec<Vec<u8>>> {
        if header.tx_root == EMPTY_TX_ROOT {
            return Some(Vec::new());
        }
        let id = header.id();
        self.bodies
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, b)| b.clone())
    }

    /// Put the body back into `cv` (relayed by `from`): the whole VALIDATE; or `None`,
    /// and it is kept pending (at most [`PENDING_COMPACT`]; one per block) until
    /// [`BodyCache::ready`] finds its body.
    ///
    /// When the slots are full, the one for the highest height goes (the newcomer itself
    /// if its height is not lower than every kept one's): pending compact VALIDATEs are
    /// not authenticated, and dropping the oldest let anyone displace the one for the
    /// height being decided with four claiming far-future heights, which silenced
    /// [`BodyCache::overdue`] and so the fall back to block sync. Now only ones claiming
    /// the same or a lower height displace it; the same height is overdue itself, and
    /// lower ones are dropped by the next [`BodyCache::ready`] (the host drains after
    /// every message).
    pub fn expand(&mut self, from: Address, cv: CompactValidate) -> Option<Validate> {
        match self.body(&cv.header) {
            Some(body) => Some(cv.expand(body)),
            None => {
                let id = cv.block_id();
                if !self.pending.iter().any(|(_, p, _)| p.block_id() == id) {
                    if self.pending.len() >= PENDING_COMPACT {
                        // The highest height kept (the newest of those).
                        let highest = self
                            .pending
                            .iter()
                            .enumerate()
                            .max_by_key(|(i, (_, p, _))| (p.height(), *i))
                            .map(|(i, (_, p, _))| (i, p.height()));
                        match highest {
                            Some((i, h)) if h > cv.height() => {
                                self.pending.remove(i);
                            }
                            _ => return None,
                        }
                    }
                    self.pending.push_back((from, cv, false));
                }
                None
            }
        }
    }

    /// The pending compact VALIDATEs whose body has arrived, whole, with their relays
    /// (removed from the pending slots); pending ones below `height` are dropped (decided
    /// already).
    pub fn ready(&mut self, height: Height) -> Vec<(Address, Validate)> {
        let mut out = Vec::new();
        if self.pending.is_empty() {
            return out;
        }
        let mut keep = VecDeque::new();
        while let Some((from, cv, aged)) = self.pending.pop_front() {
            if cv.height() < height {
                continue;
            }
            match self.body(&cv.header) {
                Some(body) => out.push((from, cv.expand(body))),
                None => keep.push_back((from, cv, aged)),
            }
        }
        self.pending = keep;
        out
    }

    /// Called on a periodic tick: whether a compact VALIDATE for a height at or below
    /// `height` (the one being decided) has waited for its body since the previous tick,
    /// i.e. the PRE-PREPARE was missed and the block must come by block sync.
    pub fn overdue(&mut self, height: Height) -> bool {
        let mut overdue = false;
        self.pending.retain_mut(|(_, cv, aged)| {
            if cv.height() < height {
                return false;
            }
            overdue |= *aged && cv.height() == height;
            *aged = true;
            true
        });
        overdue
    }

    /// Bodies kept (for tests and the status file).
    pub fn len(&self) -> usize {
        self.bodies.len()
    }

    /// Whether no body is kept.
    pub fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }

    /// Compact VALIDATEs pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use cpchain_consensus::lbft::block::tx_root;
    use cpchain_consensus::lbft::VoteKind;
    use cpchain_core::{Address, Timestamp};

    fn header(height: u64, txs: &[Vec<u8>]) -> Header {
        Header {
            chain_id: 7,
            height: Height(height),
            parent: Hash([1; 32]),
            timestamp: Timestamp(1_000 + height),
            proposer: Address([2; 20]),
            coinbase: Address([3; 20]),
            tx_root: tx_root(txs),
        }
    }

    fn compact(height: u64, txs: &[Vec<u8>]) -> CompactValidate {
        let header = header(height, txs);
        CompactValidate {
            certificate: Certificate {
                kind: VoteKind::Commit,
                height: Height(height),
                round: 0,
                block: header.id(),
                signatures: Vec::new(),
            },
            header,
            seal: None,
        }
    }

    #[test]
    fn a_compact_validate_round_trips_and_expands_to_the_whole_one() {
        let txs = vec![vec![1u8; 200], vec![2u8; 200]];
        let cv = compact(5, &txs);
        let bytes = encoding::encode_to_vec(&cv).unwrap();
        assert!(is_compact(&bytes));
        assert_eq!(decode(&bytes).unwrap(), cv);
        let mut cache = BodyCache::default();
        cache.keep(cv.block_id(), txs.clone());
        let v = cache
            .expand(Address::ZERO, cv.clone())
            .expect("the body was kept");
        assert_eq!(v.block.transactions, txs);
        assert_eq!(v.block.header, cv.header);
        assert_eq!(CompactValidate::of(&v), cv);
        // Its size does not grow with the body.
        assert!(bytes.len() < 400, "{}", bytes.len());
    }

    const LBFT: &str = "/cpchain/7/lbft";

    #[test]
    fn compact_ids_are_one_per_block_and_differ_from_whole_validate_ids() {
        let txs = vec![vec![9u8; 50]];
        let a = compact(3, &txs);
        let mut b = a.clone();
        b.certificate.round = 1; // another validator's certificate of the same block
        let (ea, eb) = (
            encoding::encode_to_vec(&a).unwrap(),
            encoding::encode_to_vec(&b).unwrap(),
        );
        assert_ne!(ea, eb);
        assert_eq!(gossip_id(LBFT, &ea), gossip_id(LBFT, &eb));
        assert!(gossip_id(LBFT, &ea).is_some());
        let other = encoding::encode_to_vec(&compact(4, &txs)).unwrap();
        assert_ne!(gossip_id(LBFT, &ea), gossip_id(LBFT, &other));
        let whole = encoding::encode_to_vec(&cpchain_consensus::lbft::Message::Validate(
            a.clone().expand(txs),
        ))
        .unwrap();
        assert_eq!(gossip_id(LBFT, &whole), None);
        // (that the two kinds' ids differ is checked in `network`'s tests)
        assert_eq!(gossip_id(LBFT, &ea[..10]), None, "truncated");
        assert_eq!(gossip_id(LBFT, &[]), None);
        assert!(decode(&ea[..ea.len() - 1]).is_err());
    }

    #[test]
    fn an_empty_body_needs_no_cache_and_a_missing_one_waits_until_it_arrives() {
        let mut cache = BodyCache::default();
        let v = cache
            .expand(Address::ZERO, compact(2, &[]))
            .expect("an empty body is known");
        assert!(v.block.transactions.is_empty());

        let txs = vec![vec![4u8; 100]];
        let cv = compact(6, &txs);
        assert!(cache.expand(Address::ZERO, cv.clone()).is_none());
        assert!(cache.expand(Address::ZERO, cv.clone()).is_none());
        assert_eq!(cache.pending(), 1, "one per block");
        assert!(cache.ready(Height(6)).is_empty());
        cache.keep(cv.block_id(), txs.clone());
        let ready = cache.ready(Height(6));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].1.block.transactions, txs);
        assert_eq!(cache.pending(), 0);

        // Overdue: still waiting at the height being decided one tick later.
        let late = compact(9, &[vec![5u8; 10]]);
        assert!(cache.expand(Address::ZERO, late.clone()).is_none());
        assert!(!cache.overdue(Height(9)), "not at the first tick");
        assert!(cache.overdue(Height(9)), "at the second");
        assert!(!cache.overdue(Height(8)), "a later height is not overdue");
        assert!(!cache.overdue(Height(10)), "and one decided is dropped");
        assert_eq!(cache.pending(), 0);

        // Pending ones below the height reached are dropped, not expanded.
        assert!(cache
            .expand(Address::ZERO, compact(7, &[vec![1]]))
            .is_none());
        cache.keep(compact(7, &[vec![1]]).block_id(), vec![vec![1]]);
        assert!(cache.ready(Height(8)).is_empty());
        assert_eq!(cache.pending(), 0);
    }

    /// A claim of a later height never displaces a pending one of a lower height (the
    /// one being decided, whose overdue tick is the fall back to block sync); on e8087fd
    /// the oldest went, so four far-future claims displaced it.
    #[test]
    fn far_future_claims_never_displace_a_lower_pending_height() {
        let mut cache = BodyCache::default();
        let real = compact(5, &[vec![5u8; 10]]);
        assert!(cache.expand(Address::ZERO, real.clone()).is_none());
        for k in 0..10u64 {
            let _ = cache.expand(Address::ZERO, compact(1_000 + k, &[vec![k as u8; 3]]));
            assert!(cache.pending() <= PENDING_COMPACT);
        }
        assert!(!cache.overdue(Height(5)));
        assert!(cache.overdue(Height(5)), "the real one is still pending");
        // A lower claim displaces the highest one kept, not the one being decided.
        assert!(cache
            .expand(Address::ZERO, compact(6, &[vec![6u8; 3]]))
            .is_none());
        assert_eq!(cache.pending(), PENDING_COMPACT);
        cache.keep(real.block_id(), vec![vec![5u8; 10]]);
        let ready = cache.ready(Height(5));
        assert_eq!(ready.len(), 1);
        assert_eq!(CompactValidate::of(&ready[0].1), real);
    }

    #[test]
    fn bounded_by_entry_counts_whatever_is_offered() {
        let mut cache = BodyCache::default();
        for h in 0..100u64 {
            let txs = vec![vec![h as u8; 10]];
            let cv = compact(h, &txs);
            cache.keep(cv.block_id(), txs);
            let _ = cache.expand(Address::ZERO, compact(h + 1_000, &[vec![h as u8 + 1; 10]]));
            assert!(cache.len() <= BODY_CACHE_BLOCKS);
            assert!(cache.pending() <= PENDING_COMPACT);
        }
        // The newest bodies are the ones kept.
        let newest = compact(99, &[vec![99u8; 10]]);
        assert!(cache.has(&newest.block_id()));
        assert!(!cache.has(&compact(0, &[vec![0u8; 10]]).block_id()));
    }
}
