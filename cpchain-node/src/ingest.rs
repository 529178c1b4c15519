//! Transaction intake: signature recovery once per transaction per node, off the node
//! loop and on every core, and the batches transactions travel in (the `POST /txs` API
//! and the gossip topic).
//!
//! Recovery is the one real cost of a transaction (about 45-60 µs of one core on
//! libsecp256k1, 110-150 µs on k256, see docs/BENCHMARKS.md); everything else a node does
//! with one is microseconds. So:
//!
//! * The API recovers submitted transactions on tokio's blocking pool
//!   ([`recover_each`] over chunks on every core) before the node loop sees them; a gossiped
//!   batch is recovered the same way and handed back to the loop by a channel. The loop
//!   only checks nonces and balances. This intake recovery runs at background priority and
//!   one batch at a time per process ([`crate::priority`]): under overload it waits
//!   behind consensus instead of starving it.
//! * A proposal's transactions that are pending are judged and executed from the pool's
//!   own entries (shared, decoded and recovered at admission: no decode, recovery or
//!   copy; [`check_block`]).
//! * A proposal's transactions are hashed once per validator: the engine hashes them to
//!   check the header's `tx_root` and hands the leaves over with `CheckBlock`
//!   (`tx_hashes`), which [`check_block_hashed`] looks up and recovers with; the
//!   proposer builds `tx_root` from the hashes its pool holds (`Mempool::select_hashed`,
//!   `Validator::propose_with_leaves`). Before, `check_block` hashed every transaction
//!   again (and a recovered one a third time), and the proposer hashed its whole body.
//!   And the engine hashes only the leaves the pool does not know: a proposal comes to it
//!   with the hashes of the transactions the pool holds byte for byte
//!   (`Mempool::known_leaves`, `Validator::handle_message_with_known_leaves`).
//! * Every recovered (transaction hash → sender) pair goes into the node's
//!   [`SenderCache`]; judging a proposal (`CheckBlock`) and executing the committed block
//!   look senders up there for what is not pending and recover only the misses. The hash
//!   covers the whole encoding (body and signature) and recovery is a function of it, so
//!   a hit is exactly what recovering again would give.
//! * The signing digest is taken over the envelope's own bytes (the body's encoding is
//!   its middle slice after a canonical decode), not over a second encoding of the body.
//! * A gossiped transaction is hashed once (the node loop's sender-cache lookup) and its
//!   bytes move into the pool's entry ([`check_owned`], [`recover_owned`]); the API's
//!   submissions likewise.
//! * The sender cache is shared with the intake workers ([`SharedSenders`]): under load a
//!   proposal's `CheckBlock` recovers transactions whose gossiped batch still waits for
//!   its background turn, and the batch then decodes those instead of recovering them
//!   again ([`recover_unless_known`]; before, 0.13-0.14 extra recoveries per node per
//!   committed transaction at the 7-validator bench's best level). The lookup is made
//!   per transaction as a worker reaches it, and each recovered sender goes into the
//!   cache at once (session 10: looked up once per batch and cached at admission, a
//!   proposal judged mid-batch still cost 0.02-0.05 extra recoveries near the knee; now
//!   1.000 recoveries per node and committed transaction at every bench level).
//! * Overload: while the pool holds `validator::INTAKE_SHED_PENDING` (two full blocks)
//!   ready transactions (those behind a nonce gap are not load, see `tx::Mempool`)
//!   the API refuses submissions with `mempool_full` and gossiped batches are dropped
//!   BEFORE their recovery: the
//!   surplus offered beyond what the network commits does not take the block pipeline's
//!   CPU (a dropped transaction that a block carries is recovered once then).
//! * Transactions travel in batches ([`encode_batch`]): one gossip message per batch, not
//!   per transaction (and, gossip being anonymous, no ed25519 signature on it).
//! * Recovery runs on two long-lived worker pools of the process (`cores` threads each):
//!   intake's at background priority, the block path's (`CheckBlock` misses, sync) at
//!   normal priority. Before, every batch spawned and joined scoped threads, and their
//!   creation and exit (stacks mapped and unmapped, the kernel's RCU work) was ~1-2 % of a
//!   loaded devnet's CPU.

use crate::tx::HashKeyed;
pub use crate::tx::{
    check_one, check_owned, recover_each, recover_owned, recoveries, MAX_TX_BYTES,
};
use crate::tx::{recover_owned_block, tx_hash, Checked, Mempool, Transaction, TxError};
use cpchain_core::{Address, Hash};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Most transactions in one batch (one `POST /txs` request, one gossip message).
pub const MAX_BATCH_TXS: usize = 4_096;

/// Heap bytes one [`SenderCache`] entry may cost: the map slot (hash, address, control
/// byte) and the FIFO slot, both tables growing by doubling (so up to twice the slots in
/// use, and the map at most 7/8 full). Checked by the counting-allocator test
/// `tests/mempool_memory.rs`.
pub const SENDER_CACHE_ENTRY_BYTES: usize = 192;

/// A bounded map from transaction hash to recovered sender, oldest evicted first.
#[derive(Debug)]
pub struct SenderCache {
    map: HashKeyed<Address>,
    order: VecDeque<Hash>,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl SenderCache {
    /// A cache of at most `capacity` entries (heap at most
    /// `capacity × SENDER_CACHE_ENTRY_BYTES`, allocated as it fills).
    pub fn new(capacity: usize) -> SenderCache {
        SenderCache {
            map: HashKeyed::default(),
            order: VecDeque::new(),
            capacity,
            hits: 0,
            misses: 0,
        }
    }

    /// The sender recovered before for the transaction with this hash.
    pub fn get(&self, hash: &Hash) -> Option<Address> {
        self.map.get(hash).copied()
    }

    /// Remember a recovered sender, evicting the oldest entry when full.
    pub fn insert(&mut self, hash: Hash, sender: Address) {
        if self.capacity == 0 || self.map.contains_key(&hash) {
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.map.insert(hash, sender);
        self.order.push_back(hash);
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Transactions answered without a recovery (from the pool or this cache), and
    /// recoveries made, by [`check_block`]:
    /// the proof (in the status file) that a block's transactions are not recovered again.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

/// The node's sender cache, shared between the node loop and the intake workers (a
/// gossiped batch that waited for its background turn must not recover what a block
/// carried meanwhile: [`recover_unless_known`]).
pub type SharedSenders = Arc<Mutex<SenderCache>>;

/// Lock the shared sender cache (a panicked holder left it consistent: every method
/// leaves the map and the FIFO in step before it can panic, so poisoning is ignored).
pub fn lock_senders(s: &Mutex<SenderCache>) -> MutexGuard<'_, SenderCache> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Intake recovery ([`recover_owned`]) of `items` (`(tx_hash, bytes)`), except those
/// whose sender `cache` holds by the time a worker reaches them: a block carried them
/// while the batch waited for its turn or was being recovered (under load the
/// `CheckBlock` of a proposal recovers what intake has not reached yet), and those are
/// only decoded, so no transaction is recovered twice by a node. Each sender recovered
/// here goes into `cache` at once, not when the node loop admits the batch: a proposal
/// judged in between finds it there. One result per item, in order.
///
/// Looked up per transaction, not once per batch (session 10): a batch of ~700 takes tens
/// of milliseconds at background priority under load, and a proposal judged meanwhile
/// recovered what the batch had not reached yet, and the batch recovered it again (the
/// bench read 1.02-1.05 recoveries per node and committed transaction near the knee).
pub fn recover_unless_known(
    items: Vec<(Hash, Vec<u8>)>,
    chain_id: u64,
    cache: &Mutex<SenderCache>,
) -> Vec<Result<Checked, TxError>> {
    crate::tx::recover_owned_by(items, |hash, bytes| {
        let known = lock_senders(cache).get(&hash);
        match known {
            Some(sender) => decoded_with(bytes, hash, sender, chain_id),
            None => {
                let r = check_owned(bytes, hash, chain_id);
                if let Ok(c) = &r {
                    lock_senders(cache).insert(c.hash, c.sender);
                }
                r
            }
        }
    })
}

/// A transaction whose sender was recovered before (same hash, same bytes): decoded and
/// checked against the chain only.
fn decoded_with(
    bytes: Vec<u8>,
    hash: Hash,
    sender: Address,
    chain_id: u64,
) -> Result<Checked, TxError> {
    if bytes.len() > MAX_TX_BYTES {
        return Err(TxError::Decode);
    }
    let tx = Transaction::from_bytes(&bytes)?;
    if tx.body.chain_id != chain_id {
        return Err(TxError::WrongChain(tx.body.chain_id));
    }
    Ok(Checked {
        tx,
        sender,
        hash,
        bytes,
    })
}

/// A block's transactions, checked: a pending one is the pool's entry itself (decoded
/// and recovered at admission: no decode, no recovery, no copy); else its sender comes
/// from `cache` where this node recovered it before (the transaction is decoded again),
/// else it is recovered (on every core) and added to the cache. `Err` on the first
/// transaction that does not decode, names another chain or does not recover.
pub fn check_block(
    txs: &[Vec<u8>],
    chain_id: u64,
    pool: &Mempool,
    cache: &mut SenderCache,
) -> Result<Vec<Arc<Checked>>, TxError> {
    let hashes: Vec<Hash> = txs.iter().map(|b| tx_hash(b)).collect();
    check_block_hashed(txs, &hashes, chain_id, pool, cache)
}

/// [`check_block`] with each transaction's hash ([`tx_hash`], in order) given: the
/// leaves the consensus engine hashed to check the proposal's `tx_root`, handed over
/// with `ValidatorOutput::CheckBlock` (`tx_hashes`). The body is not hashed again, not
/// even for the transactions that must be recovered (issue 14; before, each transaction
/// was hashed here for the pool lookup after the engine had hashed it, and a recovered one
/// once more). The judgement is exactly [`check_block`]'s. `hashes` of another length
/// than `txs` are not used (the body is hashed, as by `check_block`); the caller vouches
/// that each given hash is its transaction's (the engine's are: they hashed to the
/// header's `tx_root`).
pub fn check_block_hashed(
    txs: &[Vec<u8>],
    hashes: &[Hash],
    chain_id: u64,
    pool: &Mempool,
    cache: &mut SenderCache,
) -> Result<Vec<Arc<Checked>>, TxError> {
    if hashes.len() != txs.len() {
        return check_block(txs, chain_id, pool, cache);
    }
    let mut out: Vec<Option<Arc<Checked>>> = Vec::with_capacity(txs.len());
    let mut missing: Vec<usize> = Vec::new();
    for (i, (b, hash)) in txs.iter().zip(hashes).enumerate() {
        let hash = *hash;
        if let Some(c) = pool.get(&hash) {
            // Same hash, same bytes: the pool checked them against this chain.
            out.push(Some(Arc::clone(c)));
            continue;
        }
        match cache.get(&hash) {
            Some(sender) => {
                let tx = Transaction::from_bytes(b)?;
                if tx.body.chain_id != chain_id {
                    return Err(TxError::WrongChain(tx.body.chain_id));
                }
                out.push(Some(Arc::new(Checked {
                    tx,
                    sender,
                    hash,
                    bytes: b.clone(),
                })));
            }
            None => {
                missing.push(i);
                out.push(None);
            }
        }
    }
    cache.hits = cache
        .hits
        .saturating_add((txs.len() - missing.len()) as u64);
    cache.misses = cache.misses.saturating_add(missing.len() as u64);
    if !missing.is_empty() {
        let items: Vec<(Hash, Vec<u8>)> = missing
            .iter()
            .filter_map(|i| Some((*hashes.get(*i)?, txs.get(*i)?.clone())))
            .collect();
        // On the block path's (normal-priority) pool, as `recover_each`.
        for (i, r) in missing.iter().zip(recover_owned_block(items, chain_id)) {
            let c = r?;
            cache.insert(c.hash, c.sender);
            if let Some(slot) = out.get_mut(*i) {
                *slot = Some(Arc::new(c));
            }
        }
    }
    out.into_iter().map(|c| c.ok_or(TxError::Decode)).collect()
}

/// A batch on the wire: for each transaction a 4-byte big-endian length, then its bytes.
pub fn encode_batch(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.iter().map(|t| t.len() + 4).sum());
    for t in txs {
        let len = u32::try_from(t.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(t);
    }
    out
}

/// Decode a batch: at most [`MAX_BATCH_TXS`] transactions of at most [`MAX_TX_BYTES`]
/// each (so a batch costs at most its own length in copies); `None` if malformed.
pub fn decode_batch(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if out.len() >= MAX_BATCH_TXS {
            return None;
        }
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        if len > MAX_TX_BYTES {
            return None;
        }
        let (tx, tail) = tail.split_at_checked(len)?;
        out.push(tx.to_vec());
        rest = tail;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{TxBody, TxKind};
    use cpchain_crypto::SecretKey;

    fn transfers(n: u64) -> Vec<Vec<u8>> {
        let k = SecretKey::from_bytes(&[5; 32]).expect("scalar");
        (0..n)
            .map(|nonce| {
                Transaction::sign(
                    &k,
                    TxBody {
                        chain_id: 41,
                        nonce,
                        kind: TxKind::Transfer {
                            to: Address([3; 20]),
                            amount: 1,
                        },
                    },
                )
                .to_bytes()
            })
            .collect()
    }

    #[test]
    fn a_waiting_batch_does_not_recover_what_a_block_carried_meanwhile() {
        let txs = transfers(40);
        let real = check_one(&txs[0], 41).expect("valid").sender;
        // A block recovered the first ten while the batch waited: their senders are in the
        // shared cache. A marker address (not what they recover to) proves they are not
        // recovered again but taken from there.
        let marker = Address([0xee; 20]);
        let cache: SharedSenders = Arc::new(Mutex::new(SenderCache::new(1_000)));
        for b in &txs[..10] {
            lock_senders(&cache).insert(tx_hash(b), marker);
        }
        let mut bad = txs[20].clone();
        let last = bad.len() - 2;
        bad[last] ^= 1; // a signature that recovers to someone else or not at all
        let mut items: Vec<(Hash, Vec<u8>)> = txs.iter().map(|b| (tx_hash(b), b.clone())).collect();
        items[20] = (tx_hash(&bad), bad.clone());
        let out = recover_unless_known(items, 41, &cache);
        assert_eq!(out.len(), 40);
        for (i, r) in out.iter().enumerate() {
            match i {
                0..=9 => assert_eq!(r.as_ref().map(|c| c.sender), Ok(marker), "{i} known"),
                20 => assert_eq!(
                    r.as_ref().map(|c| c.sender).map_err(|e| *e),
                    check_one(&bad, 41).map(|c| c.sender),
                    "recovered as check_one does"
                ),
                _ => assert_eq!(r.as_ref().map(|c| c.sender), Ok(real), "{i} recovered"),
            }
            if let Ok(c) = r {
                assert_eq!(c.hash, tx_hash(&c.bytes), "{i}");
            }
        }
        // Known ones are still checked against the chain.
        let out = recover_unless_known(vec![(tx_hash(&txs[0]), txs[0].clone())], 42, &cache);
        assert_eq!(out[0].as_ref().err(), Some(&TxError::WrongChain(41)));
        // What the batch recovered is in the cache at once (a proposal judged before the
        // node loop admits the batch finds it there); what did not recover is not.
        for (i, b) in txs.iter().enumerate().skip(10) {
            let cached = lock_senders(&cache).get(&tx_hash(b));
            assert_eq!(cached, (i != 20).then_some(real), "{i}");
        }
        assert_eq!(
            lock_senders(&cache).get(&tx_hash(&bad)),
            check_one(&bad, 41).ok().map(|c| c.sender)
        );
    }

    #[test]
    fn a_block_of_admitted_transactions_is_judged_without_recovering_again() {
        let txs = transfers(40);
        let mut cache = SenderCache::new(1_000);
        for r in recover_each(&txs, 41) {
            let c = r.expect("valid");
            cache.insert(c.hash, c.sender);
        }
        let empty = Mempool::new(10, 1 << 20);
        let checked = check_block(&txs, 41, &empty, &mut cache).expect("valid block");
        assert_eq!(checked.len(), 40);
        assert_eq!(cache.stats(), (40, 0), "every sender came from the cache");
        // A block with one transaction never seen: exactly one recovery.
        let mut more = txs.clone();
        more.extend(transfers(41).pop());
        check_block(&more, 41, &empty, &mut cache).expect("valid block");
        assert_eq!(cache.stats(), (80, 1));
        // And the judgement of the same block again (the commit) recovers nothing.
        check_block(&more, 41, &empty, &mut cache).expect("valid block");
        assert_eq!(cache.stats(), (121, 1));
    }

    /// Issue 14: a proposal's pending transactions are the pool's own entries (shared),
    /// with no recovery, no decode and no copy of their bytes; the others are recovered.
    #[test]
    fn pending_transactions_are_judged_from_the_pool_without_recovery_or_copy() {
        let txs = transfers(40);
        let load = |_: &Address| crate::tx::Account {
            balance: 1_000,
            ..crate::tx::Account::default()
        };
        let mut pool = Mempool::new(100, 1 << 20);
        for r in recover_each(&txs[..30], 41) {
            pool.admit_checked(r.expect("valid"), &load)
                .expect("admitted");
        }
        let mut cache = SenderCache::new(1_000);
        let before = recoveries();
        let checked = check_block(&txs, 41, &pool, &mut cache).expect("valid block");
        // recoveries() counts the whole process (tests run in parallel): at least the 10
        // not pending were recovered here, and the stats say exactly which.
        assert!(recoveries() - before >= 10);
        assert_eq!(cache.stats(), (30, 10), "30 from the pool, 10 recovered");
        for (c, b) in checked.iter().zip(&txs) {
            assert_eq!(&c.bytes, b);
        }
        for c in &checked[..30] {
            let pending = pool.get(&c.hash).expect("pending");
            assert!(Arc::ptr_eq(c, pending), "the pool's entry, not a copy");
        }
        assert!(pool.get(&checked[35].hash).is_none());
    }

    /// Issue 14: judging a proposal with the engine's hashes (`CheckBlock`'s `tx_hashes`)
    /// gives exactly what hashing it gives: the same entries (the pool's own for pending
    /// transactions, the same senders, hashes and bytes for cached and recovered ones), the
    /// same refusal for an invalid transaction wherever it sits, the same cache counters
    /// and contents.
    #[test]
    fn check_block_given_the_hashes_judges_exactly_as_hashing_does() {
        let txs = transfers(60);
        let other_chain = {
            let k = SecretKey::from_bytes(&[6; 32]).expect("scalar");
            Transaction::sign(
                &k,
                TxBody {
                    chain_id: 42,
                    nonce: 0,
                    kind: TxKind::Transfer {
                        to: Address([3; 20]),
                        amount: 1,
                    },
                },
            )
            .to_bytes()
        };
        let mut bad_sig = Transaction::from_bytes(&txs[50]).expect("tx");
        bad_sig.signature[64] = 9;
        let bad_sig = bad_sig.to_bytes();
        let load = |_: &Address| crate::tx::Account {
            balance: 1_000,
            ..crate::tx::Account::default()
        };
        // 0..20 pending, 20..40 known to the cache, 40..60 never seen.
        let mut pool = Mempool::new(100, 1 << 20);
        for r in recover_each(&txs[..20], 41) {
            pool.admit_checked(r.expect("valid"), &load)
                .expect("admitted");
        }
        let fresh_cache = || {
            let mut cache = SenderCache::new(1_000);
            for r in recover_each(&txs[20..40], 41) {
                let c = r.expect("valid");
                cache.insert(c.hash, c.sender);
            }
            // The other chain's transaction was recovered before (a cache hit).
            let c = check_one(&other_chain, 42).expect("valid on its chain");
            cache.insert(c.hash, c.sender);
            cache
        };
        let valid = txs.clone();
        let with = |bad: &[u8], at: usize| {
            let mut b = txs.clone();
            b.insert(at, bad.to_vec());
            b
        };
        let bodies = vec![
            valid.clone(),
            valid[40..].to_vec(),
            with(&other_chain, 10),
            with(&other_chain, 45),
            with(&[1, 2, 3], 30),
            with(&[1, 2, 3], 55),
            with(&bad_sig, 25),
            with(&bad_sig, 59),
            Vec::new(),
        ];
        let mut outcomes = (0, 0);
        for (n, body) in bodies.iter().enumerate() {
            let hashes: Vec<Hash> = body.iter().map(|b| tx_hash(b)).collect();
            let (mut c0, mut c1) = (fresh_cache(), fresh_cache());
            let plain = check_block(body, 41, &pool, &mut c0);
            let given = check_block_hashed(body, &hashes, 41, &pool, &mut c1);
            assert_eq!(c0.stats(), c1.stats(), "body {n}: cache counters");
            assert_eq!(c0.len(), c1.len(), "body {n}: cache size");
            for h in &hashes {
                assert_eq!(c0.get(h), c1.get(h), "body {n}: cache contents");
            }
            match (plain, given) {
                (Ok(a), Ok(b)) => {
                    outcomes.0 += 1;
                    assert_eq!(a.len(), body.len(), "body {n}");
                    assert_eq!(b.len(), body.len(), "body {n}");
                    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                        assert_eq!(
                            (x.hash, x.sender, &x.bytes, x.tx.body.nonce),
                            (y.hash, y.sender, &y.bytes, y.tx.body.nonce),
                            "body {n} tx {i}"
                        );
                        assert_eq!(y.hash, hashes[i], "body {n} tx {i}");
                        if let Some(p) = pool.get(&x.hash) {
                            assert!(Arc::ptr_eq(x, p) && Arc::ptr_eq(y, p), "body {n} tx {i}");
                        }
                    }
                }
                (Err(a), Err(b)) => {
                    outcomes.1 += 1;
                    assert_eq!(a, b, "body {n}");
                }
                (a, b) => panic!(
                    "body {n}: {:?} vs {:?}",
                    a.map(|v| v.len()),
                    b.map(|v| v.len())
                ),
            }
        }
        assert_eq!(outcomes, (3, 6), "three bodies accepted, six refused");
        // The refusals are the ones expected.
        let mut cache = fresh_cache();
        let refusal = |body: &Vec<Vec<u8>>, cache: &mut SenderCache| {
            let hashes: Vec<Hash> = body.iter().map(|b| tx_hash(b)).collect();
            check_block_hashed(body, &hashes, 41, &pool, cache).err()
        };
        assert_eq!(
            refusal(&bodies[2], &mut cache),
            Some(TxError::WrongChain(42))
        );
        assert_eq!(refusal(&bodies[4], &mut cache), Some(TxError::Decode));
        assert_eq!(refusal(&bodies[6], &mut cache), Some(TxError::BadSignature));
        // Hashes of the wrong length are not used: the body is hashed, same judgement.
        let short = check_block_hashed(&valid, &[], 41, &pool, &mut fresh_cache()).expect("valid");
        assert_eq!(short.len(), valid.len());
    }

    #[test]
    fn sender_cache_is_bounded_and_evicts_the_oldest() {
        let mut cache = SenderCache::new(3);
        for i in 0..5u8 {
            cache.insert(Hash([i; 32]), Address([i; 20]));
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&Hash([0; 32])), None);
        assert_eq!(cache.get(&Hash([4; 32])), Some(Address([4; 20])));
    }

    #[test]
    fn batches_round_trip_and_malformed_ones_are_refused() {
        let txs = transfers(3);
        let enc = encode_batch(&txs);
        assert_eq!(decode_batch(&enc), Some(txs));
        assert_eq!(decode_batch(&enc[..enc.len() - 1]), None);
        let mut long = 2_000u32.to_be_bytes().to_vec();
        long.extend(vec![0u8; 2_000]);
        assert_eq!(decode_batch(&long), None, "a transaction over MAX_TX_BYTES");
        let many = encode_batch(&vec![Vec::new(); MAX_BATCH_TXS + 1]);
        assert_eq!(decode_batch(&many), None, "more than MAX_BATCH_TXS");
    }

    #[test]
    fn per_transaction_results_keep_their_order_and_codes() {
        let mut txs = transfers(40);
        let mut bad = Transaction::from_bytes(&txs[7]).expect("tx");
        bad.signature[64] = 9;
        txs[7] = bad.to_bytes();
        txs[9] = vec![1, 2, 3];
        let r = recover_each(&txs, 41);
        assert_eq!(r.len(), 40);
        assert_eq!(r[7].as_ref().err(), Some(&TxError::BadSignature));
        assert_eq!(r[9].as_ref().err(), Some(&TxError::Decode));
        assert_eq!(r[8].as_ref().map(|c| c.tx.body.nonce), Ok(8));
    }
}
