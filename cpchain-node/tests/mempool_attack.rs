//! Adversarial review of the host node's transaction pool (`tx::Mempool`, ready and
//! queued parts), through its public API only: what an outsider can submit (signed
//! transactions from keys it makes for free) against the pool's four claims: heap within
//! its charge and budgets, liveness of honest senders under attack, no panic or
//! unbounded work per call, and its invariants. Each test is named for the property it
//! guards; a counting global allocator measures heap where a test claims memory (one
//! binary, so the tests take turns).

mod heap;
use heap::*;

use cpchain_core::{keccak256, Address, ChainSpec, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_node::dpor_state::DporState;
use cpchain_node::ingest::check_one;
use cpchain_node::ledger::EmptyLedger;
use cpchain_node::tx::{
    Account, ChainView, Checked, Mempool, Overlay, Transaction, TxBody, TxError, TxKind,
    MAX_TRANSFER_DATA, QUEUED_PER_SENDER,
};
use cpchain_node::validator::{
    INTAKE_SHED_PENDING, MEMPOOL_BYTES, MEMPOOL_CAPACITY, MEMPOOL_QUEUED_BYTES,
    MEMPOOL_QUEUED_CAPACITY, REVALIDATE_PER_BLOCK,
};
use std::collections::BTreeMap;

/// The `i`th key of a test (an attacker makes as many as it likes, for free).
fn key(i: u64) -> SecretKey {
    let seed = keccak256(&i.to_le_bytes());
    SecretKey::from_bytes(&seed.0).expect("a keccak output is a scalar")
}

fn chain() -> u64 {
    ChainSpec::devnet().chain_id
}

/// `kind` signed by `k` at `nonce`, decoded and recovered as intake does.
fn signed(k: &SecretKey, nonce: u64, kind: TxKind) -> Checked {
    let bytes = Transaction::sign(
        k,
        TxBody {
            chain_id: chain(),
            nonce,
            kind,
        },
    )
    .to_bytes();
    check_one(&bytes, chain()).expect("valid")
}

fn transfer(k: &SecretKey, nonce: u64, amount: u128) -> Checked {
    signed(
        k,
        nonce,
        TxKind::Transfer {
            to: Address([7; 20]),
            amount,
        },
    )
}

/// What never applies from an empty account, yet passes admission (nonce, and an
/// amount of 0 within a balance of 0): an RNode deposit below the minimum.
fn never_applies(k: &SecretKey, nonce: u64) -> Checked {
    signed(k, nonce, TxKind::JoinRNodes { amount: 0 })
}

/// The node's pool: its real bounds.
fn node_pool() -> Mempool {
    Mempool::with_queue(
        MEMPOOL_CAPACITY,
        MEMPOOL_BYTES,
        MEMPOOL_QUEUED_CAPACITY,
        MEMPOOL_QUEUED_BYTES,
    )
}

/// The host's judgement of a pending transaction after a commit (what
/// `validator::revalidate_pool` does): apply it on the stored state, one overlay for the
/// call, at the head's time.
fn judge<'a>(
    spec: &'a ChainSpec,
    load: &'a dyn Fn(&Address) -> Account,
    chain: &'a ChainView<'a>,
) -> impl FnMut(&Checked) -> bool + 'a {
    let mut overlay = Overlay::on(DporState::default());
    move |c| {
        overlay
            .apply_in(spec, c, Timestamp(1_000), Address([0xcb; 20]), &load, chain)
            .is_ok()
    }
}

/// A block a proposer takes from `pool` (at most `max_count`, 1 MiB) at `time`, executed
/// as a validator does: the transactions in block order and the accounts they changed.
fn propose_and_execute(
    pool: &Mempool,
    spec: &ChainSpec,
    time: Timestamp,
    max_count: usize,
    load: &dyn Fn(&Address) -> Account,
    view: &ChainView<'_>,
) -> (Vec<Checked>, BTreeMap<Address, Account>) {
    let picked = pool.select(
        spec,
        time,
        Address([0xcb; 20]),
        max_count,
        1 << 20,
        &load,
        &DporState::default(),
        view,
    );
    let mut overlay = Overlay::on(DporState::default());
    let block: Vec<Checked> = picked
        .iter()
        .map(|bytes| {
            let c = check_one(bytes, chain()).expect("valid");
            overlay
                .apply_in(spec, &c, time, Address([0xcb; 20]), &load, view)
                .expect("a selected transaction applies in its order");
            c
        })
        .collect();
    (block, overlay.accounts)
}

/// Attack (broke a0316e3): fresh keys cost nothing, and each can put one ready
/// transaction that never applies into the pool (admission checks nonce and amount, not
/// whether it executes). `revalidate` judged `REVALIDATE_PER_BLOCK` (256) senders a
/// commit, so an attacker adding 257 such senders a block, on top of
/// `INTAKE_SHED_PENDING` of them, kept the ready part at the shed threshold for ever:
/// every honest submission was refused `mempool_full`. Now every ready head that is new
/// since the last call is judged besides the round robin, so each commit clears them all.
/// The heap the pool holds for them stays within its charge.
#[test]
fn never_applying_heads_from_fresh_keys_leave_at_the_next_commit() {
    let _one = serial();
    let spec = ChainSpec::devnet();
    let blocks = 6u64;
    let per_block = REVALIDATE_PER_BLOCK as u64 + 1;
    let first = INTAKE_SHED_PENDING as u64;
    // Signed and recovered before anything is measured.
    let flood: Vec<Checked> = (0..first + blocks * per_block)
        .map(|i| never_applies(&key(1_000_000 + i), 0))
        .collect();
    let honest = key(1);
    let honest_addr = honest.public_key().address();
    let honest_txs: Vec<Checked> = (0..blocks).map(|n| transfer(&honest, n, 1)).collect();
    let stored: std::cell::RefCell<BTreeMap<Address, Account>> = Default::default();
    let load = |a: &Address| {
        stored.borrow().get(a).copied().unwrap_or(Account {
            balance: if *a == honest_addr { 1_000_000 } else { 0 },
            ..Account::default()
        })
    };
    let none = |_: Height| None;
    let view = ChainView {
        height: Height(1),
        canonical: &none,
        ledger: &EmptyLedger,
    };

    let before = live();
    let mut pool = node_pool();
    let mut flood = flood.into_iter();
    for c in flood.by_ref().take(first as usize) {
        pool.admit_checked(c, &load).expect("admitted as ready");
    }
    assert_eq!(pool.ready_len(), INTAKE_SHED_PENDING, "intake sheds now");
    let held = live() - before;
    eprintln!(
        "{first} one-transaction senders: {held} heap bytes held ({} each), {} charged",
        held / first as isize,
        pool.charged_bytes()
    );
    assert!(
        held <= pool.charged_bytes() as isize,
        "held {held} > charged {}",
        pool.charged_bytes()
    );

    for b in 0..blocks {
        // The attacker tops up while intake is open.
        for c in flood.by_ref().take(per_block as usize) {
            pool.admit_checked(c, &load).expect("admitted as ready");
        }
        // A block: it commits what applies (here the honest one, if pending), then the
        // node prunes and revalidates as `validator.rs` does after each commit.
        let (_, changed) = propose_and_execute(&pool, &spec, Timestamp(1_000), 8_192, &load, &view);
        stored.borrow_mut().extend(changed.clone());
        pool.prune_committed(&changed);
        let dropped = pool.revalidate(REVALIDATE_PER_BLOCK, judge(&spec, &load, &view));
        assert!(dropped > 0);
        assert!(
            pool.ready_len() < INTAKE_SHED_PENDING,
            "block {b}: {} ready that never apply: intake still sheds",
            pool.ready_len()
        );
        assert_eq!(
            pool.ready_len(),
            0,
            "block {b}: every never-applying head judged and dropped"
        );
        // Intake is open again: the honest sender's next transaction is admitted, and
        // the next block commits it.
        pool.admit_checked(honest_txs[b as usize].clone(), &load)
            .expect("honest admitted");
    }
    assert_eq!(
        load(&honest_addr).nonce,
        blocks - 1,
        "the honest sender got one into every block after the first"
    );
    assert_eq!(pool.ready_len(), 1, "its last one is pending");
    drop(pool);
}

/// Two keys, the first with the higher address (the whole-pool prune walks senders in
/// address order).
fn high_then_low(from: u64) -> (SecretKey, SecretKey) {
    let (a, b) = (key(from), key(from + 1));
    if a.public_key().address() > b.public_key().address() {
        (a, b)
    } else {
        (b, a)
    }
}

/// Attack (broke a0316e3, where the ready part had its own bound: promotion was held
/// back by a full ready part, and `prune_committed` left executable transactions queued
/// where `prune` promoted them; fixed here first by remembering held-back senders, then
/// superseded by main's 5196f5d, where both parts share the pool's bounds and promotion
/// always has room). Kept as a regression test of that model: `a`'s gap closes as the
/// pool's last entry, its queued ones become ready at once, and after another sender's
/// block both prunes leave the same pool.
#[test]
fn closing_a_gap_in_a_full_pool_makes_the_queued_ones_ready_and_both_prunes_agree() {
    let _one = serial();
    let (a, b) = high_then_low(50);
    let addr_b = b.public_key().address();
    let rich = |_: &Address| Account {
        balance: 1_000_000,
        ..Account::default()
    };
    let per = transfer(&a, 0, 1).bytes.len() + cpchain_node::tx::MEMPOOL_ENTRY_OVERHEAD;
    let fill = |pool: &mut Mempool| {
        for n in 0..5 {
            pool.admit_checked(transfer(&a, n, 1), &rich)
                .expect("ready");
        }
        for n in 0..4 {
            pool.admit_checked(transfer(&b, n, 1), &rich)
                .expect("ready");
        }
        for n in [6, 7] {
            pool.admit_checked(transfer(&a, n, 1), &rich)
                .expect("queued");
        }
        assert_eq!((pool.ready_len(), pool.queued_len()), (9, 2));
        // Nonce 5 closes the gap as the pool's last entry.
        pool.admit_checked(transfer(&a, 5, 1), &rich)
            .expect("ready");
        assert_eq!((pool.ready_len(), pool.queued_len()), (12, 0));
        assert_eq!(
            pool.admit_checked(transfer(&b, 4, 1), &rich),
            Err(TxError::MempoolFull)
        );
    };
    let mut whole = Mempool::with_queue(12, 12 * per, 6, 6 * per);
    let mut fast = Mempool::with_queue(12, 12 * per, 6, 6 * per);
    fill(&mut whole);
    fill(&mut fast);
    // A block commits `b`'s four.
    let committed = Account {
        nonce: 4,
        ..Account::default()
    };
    whole.prune(&|x: &Address| {
        if *x == addr_b {
            committed
        } else {
            Account::default()
        }
    });
    fast.prune_committed(&BTreeMap::from([(addr_b, committed)]));
    assert_eq!((whole.ready_len(), whole.queued_len()), (8, 0));
    assert_eq!(
        (fast.ready_len(), fast.queued_len()),
        (whole.ready_len(), whole.queued_len()),
        "prune_committed leaves what prune leaves"
    );
    assert_eq!(fast.charged_bytes(), whole.charged_bytes());
}

/// A transfer with the longest payload: its decoded `data` is heap the pool holds
/// besides the encoding.
fn transfer_data(k: &SecretKey, nonce: u64) -> Checked {
    signed(
        k,
        nonce,
        TxKind::TransferData {
            to: Address([7; 20]),
            amount: 1,
            data: vec![0xa5; MAX_TRANSFER_DATA],
        },
    )
}

/// Memory claim, the worst kind per byte: transfers carrying the longest payload, a
/// flood of them in each part (ready: consecutive nonces; queued: behind a gap, each
/// sender to `QUEUED_PER_SENDER`) to its byte budget. The heap the pool holds stays
/// within what it charges.
#[test]
fn longest_payload_transfers_hold_no_more_heap_than_charged_in_either_part() {
    let _one = serial();
    let budget = 1usize << 20;
    let keys: Vec<SecretKey> = (0..40).map(|i| key(2_000 + i)).collect();
    let load = |_: &Address| Account {
        balance: u128::MAX / 2,
        ..Account::default()
    };
    // Ready: nonces 0.. of each key; queued: nonces 1.. of others (gap at 0).
    let ready_flood: Vec<Checked> = (0..60u64)
        .flat_map(|n| keys[..20].iter().map(move |k| (k, n)))
        .map(|(k, n)| transfer_data(k, n))
        .collect();
    let queued_flood: Vec<Checked> = (1..=QUEUED_PER_SENDER as u64)
        .flat_map(|n| keys[20..].iter().map(move |k| (k, n)))
        .map(|(k, n)| transfer_data(k, n))
        .collect();
    for (name, flood, ready) in [
        ("ready", &ready_flood, true),
        ("queued", &queued_flood, false),
    ] {
        let before = live();
        let mut pool = Mempool::with_queue(usize::MAX, budget, usize::MAX, budget);
        let (mut n, mut full) = (0usize, false);
        for c in flood {
            match pool.admit_checked(c.clone(), &load) {
                Ok(_) => n += 1,
                Err(TxError::MempoolFull) => {
                    full = true;
                    // A ready flood stops here (a later nonce would be queued behind
                    // the refused one).
                    if ready {
                        break;
                    }
                }
                Err(e) => panic!("refused: {e}"),
            }
        }
        let held = live() - before;
        let charged = if ready {
            pool.charged_bytes() - pool.queued_charged_bytes()
        } else {
            pool.queued_charged_bytes()
        };
        assert!(full, "{name}: the byte budget was reached");
        assert_eq!(
            if ready {
                pool.ready_len()
            } else {
                pool.queued_len()
            },
            n
        );
        eprintln!(
            "{name}: {n} transfers of {} bytes, {held} heap bytes held ({} each), {charged} charged",
            flood[0].bytes.len(),
            held / n as isize
        );
        assert!(
            held <= charged as isize,
            "{name}: held {held} > charged {charged}"
        );
        drop(pool);
    }
}

/// Held (regression): the edges of nonces and amounts. A transaction at nonce
/// `u64::MAX` (ready when the stored nonce is that, queued otherwise) and one moving
/// `u128::MAX` (admitted: admission checks only amount ≤ balance) neither panic nor
/// break the counts: the overflowing one is dropped at the next commit (amount plus fee
/// overflows, so it never applies), the gap before `u64::MAX` closes by a commit, and the
/// pool empties to zero charged bytes.
#[test]
fn extreme_nonces_and_amounts_neither_panic_nor_leave_anything_behind() {
    let _one = serial();
    let spec = ChainSpec::devnet();
    let (top, rich, gapped) = (key(3_000), key(3_001), key(3_002));
    let (top_a, rich_a, gapped_a) = (
        top.public_key().address(),
        rich.public_key().address(),
        gapped.public_key().address(),
    );
    let load = move |a: &Address| Account {
        nonce: if *a == top_a { u64::MAX } else { 0 },
        balance: if *a == rich_a { u128::MAX } else { 1_000 },
        // Quota used: every transaction pays its fee.
        day: 0,
        sent_today: spec.free_tx_per_day,
    };
    let mut pool = node_pool();
    pool.admit_checked(transfer(&top, u64::MAX, 1), &load)
        .expect("ready at the last nonce");
    pool.admit_checked(transfer(&rich, 0, u128::MAX), &load)
        .expect("amount within the balance");
    pool.admit_checked(transfer(&gapped, u64::MAX, 1), &load)
        .expect("queued behind a gap of 2^64 - 1");
    assert_eq!(
        pool.admit_checked(transfer(&top, u64::MAX - 1, 1), &load),
        Err(TxError::NonceReplayed {
            next: u64::MAX,
            got: u64::MAX - 1
        })
    );
    assert_eq!((pool.ready_len(), pool.queued_len()), (2, 1));
    let none = |_: Height| None;
    let view = ChainView {
        height: Height(1),
        canonical: &none,
        ledger: &EmptyLedger,
    };
    pool.prune_committed(&BTreeMap::new());
    let dropped = pool.revalidate(REVALIDATE_PER_BLOCK, judge(&spec, &load, &view));
    assert_eq!(dropped, 2, "neither can pay its fee on top of its amount");
    assert_eq!((pool.ready_len(), pool.queued_len()), (0, 1));
    // Someone else's block moved `gapped` to its last nonce: the gap closed.
    pool.prune_committed(&BTreeMap::from([(
        gapped_a,
        Account {
            nonce: u64::MAX,
            ..Account::default()
        },
    )]));
    assert_eq!((pool.ready_len(), pool.queued_len()), (1, 0));
    pool.prune(&|a: &Address| Account {
        nonce: if *a == gapped_a { u64::MAX } else { 0 },
        ..Account::default()
    });
    assert_eq!(pool.ready_len(), 1, "a whole-pool prune keeps it ready");
    let dropped = pool.revalidate(REVALIDATE_PER_BLOCK, |_| false);
    assert_eq!(dropped, 1);
    assert!(pool.is_empty());
    assert_eq!(pool.charged_bytes(), 0);
}

/// Held (regression): a pending nonce cannot be replaced, ready or queued (a second
/// transaction for the same sender and nonce is `duplicate`), so nobody churns the pool
/// by replacing, and the charge stays that of the first.
#[test]
fn a_pending_nonce_is_never_replaced() {
    let _one = serial();
    let k = key(4_000);
    let rich = |_: &Address| Account {
        balance: 1_000_000,
        ..Account::default()
    };
    let mut pool = node_pool();
    pool.admit_checked(transfer(&k, 0, 1), &rich)
        .expect("ready");
    pool.admit_checked(transfer(&k, 5, 1), &rich)
        .expect("queued");
    let charged = pool.charged_bytes();
    for n in [0, 5] {
        assert_eq!(
            pool.admit_checked(transfer_data(&k, n), &rich),
            Err(TxError::Duplicate),
            "nonce {n}"
        );
    }
    assert_eq!((pool.ready_len(), pool.queued_len()), (1, 1));
    assert_eq!(pool.charged_bytes(), charged);
}

/// Held (regression): an empty account past its free daily quota sends consecutive
/// amount-0 transfers (admitted ready: amount 0 ≤ balance 0). None can pay its fee;
/// the next commit drops the first, moves `QUEUED_PER_SENDER` of the rest to queued and
/// drops the others; when the day turns (quota free again) and the first is sent again,
/// the queued ones come back ready.
#[test]
fn an_empty_account_past_its_free_quota_holds_nothing_ready_after_a_commit() {
    let _one = serial();
    let spec = ChainSpec::devnet();
    let k = key(5_000);
    let broke = |_: &Address| Account {
        sent_today: spec.free_tx_per_day,
        ..Account::default()
    };
    let mut pool = node_pool();
    for n in 0..200 {
        pool.admit_checked(transfer(&k, n, 0), &broke)
            .expect("admitted ready");
    }
    assert_eq!(pool.ready_len(), 200);
    let none = |_: Height| None;
    let view = ChainView {
        height: Height(1),
        canonical: &none,
        ledger: &EmptyLedger,
    };
    pool.prune_committed(&BTreeMap::new());
    assert_eq!(
        pool.revalidate(REVALIDATE_PER_BLOCK, judge(&spec, &broke, &view)),
        1
    );
    assert_eq!(
        (pool.ready_len(), pool.queued_len()),
        (0, QUEUED_PER_SENDER)
    );
    // A new day: the quota is free again; the first is sent again.
    let fresh_day = |_: &Address| Account::default();
    pool.admit_checked(transfer(&k, 0, 0), &fresh_day)
        .expect("ready again");
    assert_eq!(
        (pool.ready_len(), pool.queued_len()),
        (QUEUED_PER_SENDER + 1, 0)
    );
}

/// Attack (broke a0316e3): selection walked the ready part in (sender, nonce) order and
/// stopped at the block's bound, so senders with lower addresses always went first. An
/// attacker with funded keys below the victim's address (half of all keys are below a
/// given one; grinding a key just below it is cheap) keeping more valid transactions
/// ready than a block takes starved the victim for as long as it paid: the victim's
/// transaction was admitted but never committed. Now a block takes the senders' first
/// transactions in turn (then their second ones, …), starting at a sender that depends on
/// the height, so a sender's place does not depend on how many others hold below it.
#[test]
fn an_honest_sender_above_a_flood_of_valid_transactions_is_still_committed() {
    let _one = serial();
    let spec = ChainSpec::devnet();
    let block = 64usize;
    let mut keys = (6_000..).map(key);
    let honest = keys
        .by_ref()
        .find(|k| k.public_key().address().0[0] >= 0xf0)
        .expect("a high address");
    let honest_a = honest.public_key().address();
    let attackers: Vec<SecretKey> = keys
        .filter(|k| k.public_key().address() < honest_a)
        .take(3)
        .collect();
    let stored: std::cell::RefCell<BTreeMap<Address, Account>> = Default::default();
    let load = |a: &Address| {
        stored.borrow().get(a).copied().unwrap_or(Account {
            balance: 1 << 100,
            ..Account::default()
        })
    };
    let none = |_: Height| None;
    let mut pool = node_pool();
    // Paid transfers (quota or not, the attacker's accounts can pay): 2 blocks each.
    for k in &attackers {
        for n in 0..2 * block as u64 {
            pool.admit_checked(transfer(k, n, 1), &load).expect("ready");
        }
    }
    pool.admit_checked(transfer(&honest, 0, 1), &load)
        .expect("honest admitted");
    let mut committed_at = None;
    for h in 1..=4u64 {
        let view = ChainView {
            height: Height(h),
            canonical: &none,
            ledger: &EmptyLedger,
        };
        let (picked, changed) =
            propose_and_execute(&pool, &spec, Timestamp(1_000 * h), block, &load, &view);
        assert_eq!(picked.len(), block, "full blocks");
        if committed_at.is_none() && picked.iter().any(|c| c.sender == honest_a) {
            committed_at = Some(h);
        }
        stored.borrow_mut().extend(changed.clone());
        pool.prune_committed(&changed);
    }
    assert_eq!(
        committed_at,
        Some(1),
        "the honest transaction goes into the first block"
    );
}

/// Attack (broke a0316e3, where the ready part had its own bound: a gap closed by
/// another node's block while the ready part was full left the sender's executable
/// transactions queued with nothing of its own to commit, and a resubmission was
/// `duplicate`, for their whole lifetime; fixed here first by remembering where
/// promotion stopped, then superseded by main's 5196f5d, shared bounds). Kept as a
/// regression test: in a full pool, the block that commits the missing nonce makes them
/// ready at once.
#[test]
fn a_gap_closed_by_another_nodes_block_in_a_full_pool_is_ready_at_once() {
    let _one = serial();
    let (s, other) = (key(7_000), key(7_001));
    let s_a = s.public_key().address();
    let rich = |_: &Address| Account {
        balance: 1_000_000,
        ..Account::default()
    };
    let per = transfer(&s, 0, 1).bytes.len() + cpchain_node::tx::MEMPOOL_ENTRY_OVERHEAD;
    let mut pool = Mempool::with_queue(6, 6 * per, 3, 3 * per);
    for n in 0..4 {
        pool.admit_checked(transfer(&other, n, 1), &rich)
            .expect("ready");
    }
    for n in [1, 2] {
        pool.admit_checked(transfer(&s, n, 1), &rich)
            .expect("queued");
    }
    assert_eq!(
        pool.admit_checked(transfer(&other, 4, 1), &rich),
        Err(TxError::MempoolFull)
    );
    // Another node's block: `s`'s nonce 0, which this pool never saw.
    pool.prune_committed(&BTreeMap::from([(
        s_a,
        Account {
            nonce: 1,
            ..Account::default()
        },
    )]));
    assert_eq!((pool.ready_len(), pool.queued_len()), (6, 0));
    assert_eq!(
        pool.admit_checked(transfer(&s, 1, 1), &rich),
        Err(TxError::Duplicate)
    );
}

/// Attack (OPEN: fails on a0316e3 and on this branch, so it is ignored). Transactions
/// whose validity reads state other senders change: the device anchors of one stream,
/// sent by many fresh keys (anyone may submit a device's anchor), with indices rising in
/// the senders' address order, so each applies after the previous one and the judgement
/// of new heads keeps them all. One block then commits a higher anchor (the attacker's
/// own, through another proposer): every pending one is stale at once, yet no head is
/// new, so only the round robin (`REVALIDATE_PER_BLOCK` senders a commit) finds them.
/// 16,384 such senders hold the ready part at the shed threshold for 64 blocks, at the
/// cost of one stream (free quota) and two signatures a transaction.
///
/// Left: re-judging after a commit the heads that read what the block changed (here: the
/// anchors of the streams whose head it moved) needs an index of pending heads by the
/// ledger keys they read; judging every data-ledger head after each commit would cost a
/// signature verification each per block, a CPU attack of its own.
#[test]
#[ignore = "open: heads made stale by other senders' commits wait for the round robin"]
fn anchors_made_stale_by_a_commit_leave_at_the_next_commit() {
    use cpchain_storage::{Anchor, BlockId, StreamId};
    let _one = serial();
    let spec = ChainSpec::devnet();
    let (device, owner) = (key(8_000), key(8_001));
    let stream = StreamId([0x5a; 32]);
    let anchor = |index: u64| {
        TxKind::Anchor(Box::new(Anchor::sign(
            stream,
            index,
            BlockId(cpchain_core::Hash([index as u8; 32])),
            Timestamp(index),
            &device,
        )))
    };
    let mut table: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut accounts: BTreeMap<Address, Account> = BTreeMap::new();
    let none = |_: Height| None;
    // Commit `txs` as one block on `table` and `accounts`; returns the block's accounts.
    let commit = |txs: &[Checked],
                  table: &mut BTreeMap<Vec<u8>, Vec<u8>>,
                  accounts: &mut BTreeMap<Address, Account>| {
        let stored = accounts.clone();
        let load = |a: &Address| stored.get(a).copied().unwrap_or_default();
        let view = ChainView {
            height: Height(1),
            canonical: &none,
            ledger: &*table,
        };
        let mut o = Overlay::on(DporState::default());
        for c in txs {
            o.apply_in(
                &spec,
                c,
                Timestamp(1_000),
                Address([0xcb; 20]),
                &load,
                &view,
            )
            .expect("the block applies");
        }
        for (k, v) in o.ledger.writes {
            match v {
                Some(v) => table.insert(k, v),
                None => table.remove(&k),
            };
        }
        accounts.extend(o.accounts.clone());
        o.accounts
    };
    let register = signed(
        &owner,
        0,
        TxKind::RegisterStream {
            stream,
            device: device.public_key().to_compressed(),
        },
    );
    commit(&[register], &mut table, &mut accounts);

    let n = 3 * REVALIDATE_PER_BLOCK;
    let mut senders: Vec<SecretKey> = (0..n as u64).map(|i| key(9_000 + i)).collect();
    senders.sort_by_key(|k| k.public_key().address());
    let mut pool = node_pool();
    for (i, k) in senders.iter().enumerate() {
        let load = |a: &Address| accounts.get(a).copied().unwrap_or_default();
        pool.admit_checked(signed(k, 0, anchor(i as u64 + 1)), &load)
            .expect("ready");
    }
    // The commit after their admission: all are new heads, and all apply in turn.
    pool.prune_committed(&BTreeMap::new());
    {
        let stored = accounts.clone();
        let load = |a: &Address| stored.get(a).copied().unwrap_or_default();
        let view = ChainView {
            height: Height(2),
            canonical: &none,
            ledger: &table,
        };
        assert_eq!(
            pool.revalidate(REVALIDATE_PER_BLOCK, judge(&spec, &load, &view)),
            0
        );
    }
    assert_eq!(pool.ready_len(), n);
    // Another proposer's block: the owner's anchor above all of them.
    let changed = commit(
        &[signed(&owner, 1, anchor(n as u64 + 1))],
        &mut table,
        &mut accounts,
    );
    pool.prune_committed(&changed);
    let stored = accounts.clone();
    let load = |a: &Address| stored.get(a).copied().unwrap_or_default();
    let view = ChainView {
        height: Height(3),
        canonical: &none,
        ledger: &table,
    };
    pool.revalidate(REVALIDATE_PER_BLOCK, judge(&spec, &load, &view));
    assert_eq!(
        pool.ready_len(),
        0,
        "every stale anchor is judged at the commit that made it stale"
    );
}
