//! Issue 12, item 1: the heap a validator holds on behalf of peers stays within
//! `Config::peer_memory_bound` whatever they send. This binary has a counting global
//! allocator (one test file, one binary), so "held" is measured, not estimated: live heap
//! bytes after a flood minus before it, with every output drained (the host's contract).

mod common;
use common::*;
use cpchain_consensus::lbft::*;
use cpchain_core::encoding::encode_to_vec;
use cpchain_core::{keccak256, Address, Height, Timestamp};
use cpchain_crypto::SecretKey;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes of the process (allocated − freed, reallocations included).
fn live() -> isize {
    let s = GLOBAL.stats();
    // `realloc` is already counted in both (as growth or shrinkage).
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

const N: usize = 7;
/// Byzantine members (f = 2 at n = 7): the two highest indices.
const BYZ: [usize; 2] = [5, 6];

/// The largest decoded body: `MAX_TRANSACTIONS` transactions filling `MAX_BLOCK_BYTES`.
fn max_body() -> Vec<Vec<u8>> {
    let per = MAX_BLOCK_BYTES / MAX_TRANSACTIONS;
    (0..MAX_TRANSACTIONS)
        .map(|i| {
            let mut t = vec![0u8; per];
            t[..4].copy_from_slice(&(i as u32).to_le_bytes());
            t
        })
        .collect()
}

/// A block at `height` claiming `proposer`, sealed by `sealer`, with `body` (tx root given).
fn sealed(
    fx: &Fixture,
    height: u64,
    proposer: Address,
    sealer: &SecretKey,
    body: &[Vec<u8>],
    root: cpchain_core::Hash,
    salt: u8,
) -> Block {
    let header = Header {
        chain_id: fx.spec.chain_id,
        height: Height(height),
        parent: keccak256(&[salt]),
        timestamp: Timestamp(T0.0 + fx.spec.block_period.0 + u64::from(salt)),
        proposer,
        coinbase: Address([salt | 1; 20]),
        tx_root: root,
    };
    let seal = sealer.sign(&block::SEAL_DOMAIN, header.id().as_bytes());
    Block {
        header,
        seal: Some(seal),
        transactions: body.to_vec(),
    }
}

fn bytes(m: &Message) -> Vec<u8> {
    encode_to_vec(m).unwrap()
}

/// The committee of `N`, an honest proposer for height 1 and a Byzantine one (`PB`) for
/// every later height.
fn fixture() -> (Fixture, SecretKey, SecretKey) {
    let mut fx = Fixture::new(N);
    let honest = secret(7001);
    let byz = secret(7002);
    let mut sched = vec![byz.public_key().address(); 16];
    // FixedSchedule cycles by height: make height 1 the honest proposer's.
    let probe = FixedSchedule::new((0..16u8).map(|i| Address([i; 20])).collect());
    let slot = (0..16)
        .find(|i| probe.proposer_of(Height(1)) == Some(Address([*i as u8; 20])))
        .unwrap();
    sched[slot] = honest.public_key().address();
    fx.schedule = FixedSchedule::new(sched);
    assert_eq!(
        fx.schedule.proposer_of(Height(1)),
        Some(honest.public_key().address())
    );
    (fx, honest, byz)
}

/// Every kind of maximum-size message, from an outsider and from the f Byzantine members
/// (and the Byzantine proposer of the later heights), as wire bytes with their sender.
fn flood(fx: &Fixture, pb: &SecretKey, cfg: &Config) -> Vec<(Address, Vec<u8>)> {
    let outsider = secret(6666);
    let chain = fx.spec.chain_id;
    let body = max_body();
    let root = block::tx_root(&body);
    let pb_addr = pb.public_key().address();
    let lookahead = cfg.round_lookahead;
    let mut out = Vec::new();
    let mut push = |from: Address, m: Message| out.push((from, bytes(&m)));
    // Maximum-size messages of every kind at the current height and the next one (the
    // scheduled proposer's at every buffered height); small ones everywhere. Every
    // maximum-size message costs a full decode, so the debug-build test stays quick.
    for h in 1..=cfg.future_heights + 1 {
        let all_big = h <= 2;
        // PRE-PREPARE sealed by a key that is nobody's, claiming the scheduled proposer.
        let claimed = fx.schedule.proposer_of(Height(h)).unwrap();
        if all_big {
            push(
                outsider.public_key().address(),
                Message::PrePrepare(sealed(fx, h, claimed, &outsider, &body, root, 1)),
            );
        }
        // PRE-PREPARE from a non-proposer member, correctly sealed by itself.
        for &b in BYZ.iter().filter(|_| all_big) {
            let a = fx.addr(b);
            push(
                a,
                Message::PrePrepare(sealed(fx, h, a, &fx.keys[b], &body, root, 2)),
            );
        }
        // The scheduled (Byzantine) proposer: three different sealed blocks per height.
        if h >= 2 {
            for salt in 3..6 {
                push(
                    pb_addr,
                    Message::PrePrepare(sealed(fx, h, pb_addr, pb, &body, root, salt)),
                );
            }
        }
        let big = sealed(fx, h, pb_addr, pb, &body, root, 9);
        for &b in &BYZ {
            let a = fx.addr(b);
            // A forged quorum: the Byzantine members' two signatures and three honest
            // members' addresses with copies of one of them (fails at signature checks).
            let fake = |kind: VoteKind, round: u32| {
                let mut c = fx.cert(&BYZ, kind, h, round, big.id());
                let sig = c.signatures[0].1;
                for i in 0..3 {
                    c.signatures.push((fx.addr(i), sig));
                }
                c.signatures.sort_by_key(|s| s.0);
                c
            };
            for round in 0..=lookahead + 1 {
                // Votes for every lookahead round, both phases, for blocks nobody proposed.
                for (kind, salt) in [(VoteKind::Prepare, 0u8), (VoteKind::Commit, 1)] {
                    let id = keccak256(&[b as u8, round as u8, salt, h as u8]);
                    push(a, Message::Vote(fx.vote(b, kind, h, round, id)));
                }
                // Round changes carrying a maximum-size lock with a forged certificate
                // (in three of the rounds), and plain ones (in every round).
                let big_round = all_big && (round <= 1 || round == lookahead);
                let lock = LockProof {
                    block: big.clone(),
                    certificate: fake(VoteKind::Prepare, round.saturating_sub(1)),
                };
                if big_round {
                    push(
                        a,
                        Message::RoundChange(RoundChange::sign(
                            &fx.keys[b],
                            chain,
                            Height(h),
                            round,
                            Some(lock),
                        )),
                    );
                }
                push(
                    a,
                    Message::RoundChange(RoundChange::sign(
                        &fx.keys[b],
                        chain,
                        Height(h),
                        round,
                        None,
                    )),
                );
                // Proposals (where it leads) of a maximum-size block with a forged
                // proof-of-lock, and of an impeach-looking block stuffed with the body.
                if all_big && round >= 1 && leader(&fx.set, Height(h), round) == Some(a) {
                    let pol = fake(VoteKind::Prepare, round - 1);
                    push(
                        a,
                        Message::Proposal(Proposal::sign(
                            &fx.keys[b],
                            chain,
                            Height(h),
                            round,
                            big.clone(),
                            Some(pol),
                        )),
                    );
                    let mut stuffed = Block::impeach(&fx.spec, &fx.genesis, pb_addr);
                    stuffed.header.height = Height(h);
                    stuffed.transactions = body.clone();
                    push(
                        a,
                        Message::Proposal(Proposal::sign(
                            &fx.keys[b],
                            chain,
                            Height(h),
                            round,
                            stuffed,
                            None,
                        )),
                    );
                }
            }
            // VALIDATE of a maximum-size block with a forged C-certificate.
            if all_big {
                push(
                    a,
                    Message::Validate(Validate {
                        block: big.clone(),
                        certificate: fake(VoteKind::Commit, 0),
                    }),
                );
            }
            // Many more signed votes for later heights: past any per-sender quota.
            if h >= 2 {
                for k in 0..40u32 {
                    let id = keccak256(&k.to_le_bytes());
                    push(
                        a,
                        Message::Vote(fx.vote(b, VoteKind::Prepare, h, k % 3, id)),
                    );
                }
            }
        }
    }
    out
}

#[test]
fn flood_from_outsider_and_f_byzantine_stays_within_the_bound() {
    let (fx, honest, pb) = fixture();
    let cfg = fx.config(0);
    let bound = cfg.peer_memory_bound(N, 1);
    let msgs = flood(&fx, &pb, &cfg);
    let wire: usize = msgs.iter().map(|(_, b)| b.len()).sum();

    let mut v = fx.validator(0);
    let now = T0 + fx.spec.block_period;
    let before = live();
    let mut kept = 0usize;
    for (from, b) in &msgs {
        if v.handle_bytes(now, *from, b).is_accept() {
            kept += 1;
        }
        drain(&mut v);
    }
    let held = usize::try_from(live() - before).unwrap_or(0);
    let accounted = v.held();
    println!(
        "flood: {} messages, {} wire bytes, {kept} kept; held {held} B (accounted {:?}); \
         bound {bound} B",
        msgs.len(),
        wire,
        accounted,
    );
    assert!(held <= bound, "held {held} > bound {bound}");
    // The flood did reach the budgets: the Byzantine proposer's sealed blocks for later
    // heights fill the future buffer up to its byte budget.
    assert!(
        accounted.future > cfg.future_bytes - 2 * MAX_BODY_HEAP,
        "{accounted:?}"
    );
    assert!(accounted.future <= cfg.future_bytes);
    assert!(accounted.height <= cfg.height_bytes + 64 * 1024);
    assert_eq!(v.height(), Height(1));

    // Honest traffic still decides: the honest proposer's block and the honest members'
    // votes.
    let b = {
        let parent = &fx.genesis;
        Block::propose(
            &fx.spec,
            parent,
            &honest,
            honest.public_key().address(),
            parent.timestamp + fx.spec.block_period,
            vec![vec![1, 2, 3]],
        )
    };
    feed(
        &mut v,
        now,
        honest.public_key().address(),
        Message::PrePrepare(b.clone()),
    );
    v.block_checked(now, b.id(), true);
    drain(&mut v);
    for kind in [VoteKind::Prepare, VoteKind::Commit] {
        for i in 1..5 {
            feed(
                &mut v,
                now,
                fx.addr(i),
                Message::Vote(fx.vote(i, kind, 1, 0, b.id())),
            );
        }
    }
    assert_eq!(v.stats().decided, 1);
    assert!(v.height() >= Height(2));
    let final_held = usize::try_from(live() - before).unwrap_or(0);
    assert!(
        final_held <= bound,
        "after deciding: {final_held} > {bound}"
    );
}
