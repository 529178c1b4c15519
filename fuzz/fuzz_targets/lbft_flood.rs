//! One LBFT validator (n = 4, validator 0) flooded with maximum-size messages of every
//! kind, chosen by the input: PRE-PREPAREs sealed by an outsider, by a non-proposer member
//! and by the (Byzantine) scheduled proposer; proposals with forged or no proof-of-lock;
//! round changes carrying maximum-size locks; VALIDATEs; signed votes for every lookahead
//! round; at the current and at future heights, from the outsider and the Byzantine member.
//!
//! Checked, with a counting global allocator: after every message (outputs drained, as a
//! host does) the heap the validator holds beyond its start is within
//! `Config::peer_memory_bound(n, rounds)`, and nothing panics.
#![no_main]

use arbitrary::Arbitrary;
use cpchain_consensus::lbft::*;
use cpchain_core::encoding::encode_to_vec;
use cpchain_core::{keccak256, Address, ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use libfuzzer_sys::fuzz_target;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::OnceLock;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes of the process (allocated − freed, reallocations included).
fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

const N: usize = 4;

struct World {
    spec: ChainSpec,
    keys: Vec<SecretKey>,
    set: ValidatorSet,
    pb: SecretKey,
    outsider: SecretKey,
    schedule: FixedSchedule,
    genesis: Header,
    body: Vec<Vec<u8>>,
    root: Hash,
}

fn secret(i: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x42;
    b[28..].copy_from_slice(&i.to_be_bytes());
    SecretKey::from_bytes(&b).expect("valid scalar")
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let spec = ChainSpec::devnet();
        let mut keys: Vec<SecretKey> = (0..N as u32).map(|i| secret(1000 + i)).collect();
        keys.sort_by_key(|k| k.public_key().address());
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let set = ValidatorSet::new(&pubs).expect("set");
        let pb = secret(5000);
        let schedule = FixedSchedule::new(vec![pb.public_key().address()]);
        let genesis = Header::genesis(&spec, Timestamp(1_000_000));
        let per = MAX_BLOCK_BYTES / MAX_TRANSACTIONS;
        let body: Vec<Vec<u8>> = (0..MAX_TRANSACTIONS)
            .map(|i| {
                let mut t = vec![0u8; per];
                t[..4].copy_from_slice(&(i as u32).to_le_bytes());
                t
            })
            .collect();
        let root = block::tx_root(&body);
        World {
            spec,
            keys,
            set,
            pb,
            outsider: secret(6666),
            schedule,
            genesis,
            body,
            root,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum Kind {
    PrePrepare { sealer: u8 },
    Proposal { pol: bool },
    RoundChange { lock: bool },
    Validate,
    Vote { commit: bool, block: u8 },
}

#[derive(Arbitrary, Debug)]
struct Op {
    kind: Kind,
    /// Member index (mod n) or, with `outsider`, the outsider's key.
    sender: u8,
    outsider: bool,
    ahead: u8,
    round: u8,
    big: bool,
    salt: u8,
}

fn block_at(
    w: &World,
    h: Height,
    proposer: Address,
    sealer: &SecretKey,
    big: bool,
    salt: u8,
) -> Block {
    let (txs, root) = if big {
        (w.body.clone(), w.root)
    } else {
        (vec![vec![salt]], block::tx_root(&[vec![salt]]))
    };
    let header = Header {
        chain_id: w.spec.chain_id,
        height: h,
        parent: keccak256(&[salt]),
        timestamp: Timestamp(w.genesis.timestamp.0 + w.spec.block_period.0),
        proposer,
        coinbase: Address([salt | 1; 20]),
        tx_root: root,
    };
    let seal = sealer.sign(&block::SEAL_DOMAIN, header.id().as_bytes());
    Block {
        header,
        seal: Some(seal),
        transactions: txs,
    }
}

/// A quorum-sized certificate whose signatures are copies of the signer's own.
fn forged(
    w: &World,
    signer: &SecretKey,
    kind: VoteKind,
    h: Height,
    round: u32,
    id: BlockId,
) -> Certificate {
    let v = Vote::sign(signer, w.spec.chain_id, kind, h, round, id);
    let mut sigs: Vec<_> = w.set.addresses().map(|a| (a, v.signature)).collect();
    sigs.sort_by_key(|s| s.0);
    Certificate {
        kind,
        height: h,
        round,
        block: id,
        signatures: sigs,
    }
}

fn message(w: &World, v: &Validator<FixedSchedule>, op: &Op) -> (Address, Message) {
    let key = if op.outsider {
        &w.outsider
    } else {
        &w.keys[usize::from(op.sender) % N]
    };
    let from = key.public_key().address();
    let h = Height(v.height().0 + u64::from(op.ahead % 10));
    let round = u32::from(op.round % 20);
    let chain = w.spec.chain_id;
    let msg = match op.kind {
        Kind::PrePrepare { sealer } => {
            let (claimed, k) = match sealer % 3 {
                0 => (w.pb.public_key().address(), &w.pb),
                1 => (w.pb.public_key().address(), key),
                _ => (from, key),
            };
            Message::PrePrepare(block_at(w, h, claimed, k, op.big, op.salt))
        }
        Kind::Proposal { pol } => {
            let b = if pol {
                block_at(w, h, w.pb.public_key().address(), &w.pb, op.big, op.salt)
            } else {
                let mut b = Block::impeach(&w.spec, &w.genesis, w.pb.public_key().address());
                b.header.height = h;
                if op.big {
                    b.transactions = w.body.clone();
                }
                b
            };
            let cert = pol.then(|| {
                forged(
                    w,
                    key,
                    VoteKind::Prepare,
                    h,
                    round.saturating_sub(1),
                    b.id(),
                )
            });
            Message::Proposal(Proposal::sign(key, chain, h, round.max(1), b, cert))
        }
        Kind::RoundChange { lock } => {
            let lock = lock.then(|| {
                let b = block_at(w, h, w.pb.public_key().address(), &w.pb, op.big, op.salt);
                let certificate = forged(
                    w,
                    key,
                    VoteKind::Prepare,
                    h,
                    round.saturating_sub(1),
                    b.id(),
                );
                LockProof {
                    block: b,
                    certificate,
                }
            });
            Message::RoundChange(RoundChange::sign(key, chain, h, round, lock))
        }
        Kind::Validate => {
            let b = block_at(w, h, w.pb.public_key().address(), &w.pb, op.big, op.salt);
            let certificate = forged(w, key, VoteKind::Commit, h, round, b.id());
            Message::Validate(Validate {
                block: b,
                certificate,
            })
        }
        Kind::Vote { commit, block } => {
            let kind = if commit {
                VoteKind::Commit
            } else {
                VoteKind::Prepare
            };
            Message::Vote(Vote::sign(
                key,
                chain,
                kind,
                h,
                round,
                keccak256(&[block, op.salt]),
            ))
        }
    };
    (from, msg)
}

fuzz_target!(|ops: Vec<Op>| {
    let w = world();
    let cfg = Config::new(w.spec.clone(), w.set.clone(), w.keys[0].clone());
    let mut v = Validator::new(
        cfg,
        w.schedule.clone(),
        w.genesis.clone(),
        w.genesis.timestamp,
    )
    .expect("validator");
    while v.poll_output().is_some() {}
    let before = live();
    let now = Timestamp(w.genesis.timestamp.0 + w.spec.block_period.0);
    for op in ops.iter().take(48) {
        let (from, msg) = message(w, &v, op);
        // Through the wire, as a host would: the decoder's caps are part of the bound.
        let bytes = encode_to_vec(&msg).expect("encodable");
        drop(msg);
        let _ = v.handle_bytes(now, from, &bytes);
        drop(bytes);
        while v.poll_output().is_some() {}
        let held = usize::try_from(live() - before).unwrap_or(0);
        let bound = v.config().peer_memory_bound(N, v.round().saturating_add(1));
        assert!(held <= bound, "held {held} > bound {bound} after {op:?}");
    }
});
