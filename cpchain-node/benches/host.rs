//! Host-side costs of the node, per transaction and per block: the raw recovery rate
//! (the limit of every signature check), transaction checking on one core and on all
//! cores, block execution, and a durable (fsynced) block write to redb.
//!
//! And issue 14's pipeline, per transaction, with 200-byte transfers (`TransferData`)
//! from 1,000 accounts and a pool of 50,000 pending (50 nonces an account, the overload
//! case: the pool full at `MEMPOOL_CAPACITY`), the block being the first 5,000 of them
//! (1 MB, nonces 0-4 of every account):
//! `pipeline/intake_check_and_admit` (decode, recover, hash, admit into the pool: one
//! recovery included), `pipeline/admit_only` (the node loop's part of it),
//! `pipeline/check_block_1mb_in_pool` (judging a proposal whose transactions are pending),
//! `pipeline/check_block_1mb_in_pool_given_hashes` (the same with the engine's
//! `CheckBlock` hashes: no transaction hashed again),
//! `pipeline/execute_1mb_in_pool` (the same plus applying them: `CheckBlock`'s whole
//! answer) and `pipeline/commit_1mb_and_prune` (the fsynced block write and the pool's
//! pruning after it).
//!
//! And the gossip message id of each received copy (issue 14, group `gossip_id`): the old
//! Keccak-256 id (`keccak_*`: the path of earlier versions for a message that is not a
//! VALIDATE, i.e. the VALIDATE and compact checks on the prefix, then Keccak over the
//! whole message) against the SHA-256 id (`sha256_*`: `network::gossip_id`, the same
//! checks, then SHA-256 over domain, topic and message) on a batch of one 200-byte
//! transfer (204 bytes), a batch of 502 of them (102,408 bytes: 100 KiB) and the
//! PRE-PREPARE of a 1 MiB block (5,200 transfers).
//!
//! And `persist/*`: the validator's durable `Persist` record with a 1 MB prepared block,
//! old layout (whole record) against new (blocks by id, written once); see `persist`.

#![allow(missing_docs)]

use cpchain_consensus::lbft::{Block, Certificate, Header, Persisted, Validate, Vote, VoteKind};
use cpchain_core::{encoding, Address, ChainSpec, Height, Timestamp};
use cpchain_crypto::{SecretKey, Signature};
use cpchain_node::store::{ChainStamp, Store};
use cpchain_node::tx::{check_all, Overlay, Transaction, TxBody, TxKind, TX_DOMAIN};
use cpchain_node::validator::execute;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

const TXS: usize = 1_000;

fn key(i: u8) -> SecretKey {
    SecretKey::from_bytes(&[i.max(1); 32]).expect("scalar")
}

fn transfers(n: usize) -> Vec<Vec<u8>> {
    let k = key(3);
    (0..n as u64)
        .map(|nonce| {
            Transaction::sign(
                &k,
                TxBody {
                    chain_id: 41,
                    nonce,
                    kind: TxKind::Transfer {
                        to: Address([7; 20]),
                        amount: 1,
                    },
                },
            )
            .to_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let txs = transfers(TXS);
    let one = Transaction::from_bytes(&txs[0]).expect("tx");
    let body = encoding::encode_to_vec(&one.body).expect("body");
    let sig = Signature::from_bytes(&one.signature).expect("sig");

    let mut g = c.benchmark_group("host");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_recover_signer_k256", |b| {
        b.iter(|| sig.recover_signer(&TX_DOMAIN, &body).expect("recovers"))
    });
    g.throughput(Throughput::Elements(TXS as u64));
    g.bench_function("check_1000_transfers_one_core", |b| {
        b.iter(|| {
            txs.iter()
                .map(|t| check_all(std::slice::from_ref(t), 41).expect("valid").len())
                .sum::<usize>()
        })
    });
    g.bench_function("check_1000_transfers_all_cores", |b| {
        b.iter(|| check_all(&txs, 41).expect("valid").len())
    });

    let dir = std::env::temp_dir().join(format!("cpchain-node-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let spec = ChainSpec::devnet();
    let genesis = Header::genesis(&spec, Timestamp(0));
    let stamp = ChainStamp {
        chain_id: spec.chain_id,
        genesis: genesis.id(),
        committee: cpchain_core::keccak256(b"bench"),
    };
    let store = Store::open(&dir.join("bench.redb"), stamp).expect("store");
    let sender = key(3).public_key().address();
    let allocated: cpchain_node::tx::Allocation = [(sender, cpchain_node::tx::GENESIS_BALANCE)]
        .into_iter()
        .collect();
    let block = Block::propose(
        &spec,
        &genesis,
        &key(9),
        key(9).public_key().address(),
        Timestamp(3_000),
        txs.clone(),
    );
    g.bench_function("execute_block_of_1000_transfers", |b| {
        b.iter(|| {
            execute(
                &spec,
                &block,
                &store,
                &allocated,
                &[],
                cpchain_node::dpor_state::DporState::default(),
            )
            .expect("executes")
        })
    });
    let mut height = 0u64;
    let cert = |h: u64, b: &Block| Certificate {
        kind: VoteKind::Commit,
        height: Height(h),
        round: 0,
        block: b.id(),
        signatures: Vec::new(),
    };
    g.throughput(Throughput::Elements(1));
    for (name, body) in [
        ("durable_put_empty_block", Vec::new()),
        ("durable_put_block_of_1000_transfers", txs.clone()),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    height += 1;
                    let mut blk = Block::propose(
                        &spec,
                        &genesis,
                        &key(9),
                        key(9).public_key().address(),
                        Timestamp(3_000),
                        body.clone(),
                    );
                    blk.header.height = Height(height);
                    let c = cert(height, &blk);
                    Validate {
                        block: blk,
                        certificate: c,
                    }
                },
                |v| store.put_block(&v, &Overlay::default()).expect("write"),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

const ACCOUNTS: usize = 1_000;
const POOL_NONCES: u64 = 50;
const BLOCK_NONCES: u64 = 5;

/// 200-byte transfers: `POOL_NONCES` from each of `ACCOUNTS` keys, in (nonce, account)
/// order, with the senders.
fn pipeline_txs() -> (Vec<Vec<u8>>, Vec<Address>) {
    let keys: Vec<SecretKey> = (0..ACCOUNTS)
        .map(|i| {
            let mut b = [7u8; 32];
            b[..4].copy_from_slice(&(i as u32 + 1).to_be_bytes());
            SecretKey::from_bytes(&b).expect("scalar")
        })
        .collect();
    let mut txs = Vec::new();
    for nonce in 0..POOL_NONCES {
        for k in &keys {
            let t = Transaction::sign(
                k,
                TxBody {
                    chain_id: ChainSpec::devnet().chain_id,
                    nonce,
                    kind: TxKind::TransferData {
                        to: Address([7; 20]),
                        amount: 1,
                        data: vec![0xab; 107],
                    },
                },
            )
            .to_bytes();
            assert_eq!(t.len(), 200, "the issue's size");
            txs.push(t);
        }
    }
    (txs, keys.iter().map(|k| k.public_key().address()).collect())
}

fn pipeline(c: &mut Criterion) {
    use cpchain_node::ingest::{check_block, check_block_hashed, SenderCache};
    use cpchain_node::tx::{check_one, Account, Allocation, Checked, Mempool, GENESIS_BALANCE};
    use cpchain_node::validator::{execute_cached, load_account, MEMPOOL_BYTES, MEMPOOL_CAPACITY};

    let spec = ChainSpec::devnet();
    let chain_id = spec.chain_id;
    let (txs, senders) = pipeline_txs();
    let checked: Vec<Checked> = txs
        .iter()
        .map(|t| check_one(t, chain_id).expect("valid"))
        .collect();
    let block_len = ACCOUNTS * BLOCK_NONCES as usize;
    let allocated: Allocation = senders.iter().map(|a| (*a, GENESIS_BALANCE)).collect();

    let dir = std::env::temp_dir().join(format!("cpchain-node-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let genesis = Header::genesis(&spec, Timestamp(0));
    let stamp = ChainStamp {
        chain_id,
        genesis: genesis.id(),
        committee: cpchain_core::keccak256(b"bench"),
    };
    let store = Store::open(&dir.join("pipe.redb"), stamp).expect("store");
    // Every sender stored (the loads read real rows).
    let mut init = Overlay::default();
    for a in &senders {
        init.accounts.insert(
            *a,
            Account {
                balance: GENESIS_BALANCE,
                ..Account::default()
            },
        );
    }
    let cert_of = |b: &Block| Certificate {
        kind: VoteKind::Commit,
        height: b.header.height,
        round: 0,
        block: b.id(),
        signatures: Vec::new(),
    };
    let mut g0 = Block::propose(
        &spec,
        &genesis,
        &key(9),
        key(9).public_key().address(),
        Timestamp(1_000),
        Vec::new(),
    );
    g0.header.height = Height(1_000_000);
    let g0_like = g0.clone();
    let cert0 = cert_of(&g0);
    store
        .put_block(
            &Validate {
                block: g0,
                certificate: cert0,
            },
            &init,
        )
        .expect("accounts");
    let load = |a: &Address| load_account(&store, &allocated, a);
    let full_pool = || {
        let mut pool = Mempool::new(MEMPOOL_CAPACITY, MEMPOOL_BYTES);
        for c in &checked {
            pool.admit_checked(c.clone(), &load).expect("admitted");
        }
        pool
    };
    let mut cache = SenderCache::new(cpchain_node::validator::SENDER_CACHE_CAPACITY);
    for c in &checked {
        cache.insert(c.hash, c.sender);
    }
    let block = Block::propose(
        &spec,
        &genesis,
        &key(9),
        key(9).public_key().address(),
        Timestamp(3_000),
        txs[..block_len].to_vec(),
    );
    assert!(block.transactions.iter().map(Vec::len).sum::<usize>() >= 1_000_000);

    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("intake_check_and_admit", |b| {
        b.iter_batched(
            || Mempool::new(MEMPOOL_CAPACITY, MEMPOOL_BYTES),
            |mut pool| {
                for t in &txs[..1_000] {
                    let c = check_one(t, chain_id).expect("valid");
                    pool.admit_checked(c, &load).expect("admitted");
                }
                pool
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("admit_only", |b| {
        b.iter_batched(
            || {
                (
                    Mempool::new(MEMPOOL_CAPACITY, MEMPOOL_BYTES),
                    checked[..1_000].to_vec(),
                )
            },
            |(mut pool, cs)| {
                for c in cs {
                    pool.admit_checked(c, &load).expect("admitted");
                }
                pool
            },
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(block_len as u64));
    let pool = full_pool();
    assert_eq!(pool.len(), txs.len());
    g.bench_function("check_block_1mb_in_pool", |b| {
        b.iter(|| {
            check_block(&block.transactions, chain_id, &pool, &mut cache)
                .expect("valid")
                .len()
        })
    });
    // Issue 14: the same judgement with the hashes the engine computed for `tx_root`
    // (`CheckBlock`'s `tx_hashes`): no transaction hashed again.
    let tx_hashes: Vec<cpchain_core::Hash> =
        cpchain_consensus::lbft::block::tx_leaves(&block.transactions);
    g.bench_function("check_block_1mb_in_pool_given_hashes", |b| {
        b.iter(|| {
            check_block_hashed(&block.transactions, &tx_hashes, chain_id, &pool, &mut cache)
                .expect("valid")
                .len()
        })
    });
    g.bench_function("execute_1mb_in_pool", |b| {
        b.iter(|| {
            execute_cached(
                &spec,
                &block,
                &store,
                &allocated,
                &[],
                cpchain_node::dpor_state::DporState::default(),
                &pool,
                &mut cache,
                None,
            )
            .expect("executes")
        })
    });
    let overlay = execute_cached(
        &spec,
        &block,
        &store,
        &allocated,
        &[],
        cpchain_node::dpor_state::DporState::default(),
        &pool,
        &mut cache,
        None,
    )
    .expect("executes");
    drop(pool);
    let mut height = 0u64;
    g.bench_function("commit_1mb_and_prune", |b| {
        b.iter_batched(
            || {
                height += 1;
                // The accounts back to the state before the block (not measured).
                let mut undo = g0_like.clone();
                undo.header.height = Height(2_000_000 + height);
                store
                    .put_block(
                        &Validate {
                            certificate: cert_of(&undo),
                            block: undo,
                        },
                        &init,
                    )
                    .expect("write");
                let mut blk = block.clone();
                blk.header.height = Height(height);
                let certificate = Certificate {
                    kind: VoteKind::Commit,
                    height: Height(height),
                    round: 0,
                    block: blk.id(),
                    signatures: Vec::new(),
                };
                (
                    Validate {
                        block: blk,
                        certificate,
                    },
                    full_pool(),
                )
            },
            |(v, mut pool)| {
                store.put_block(&v, &overlay).expect("write");
                // What the node does after a commit (the whole-pool `prune` before).
                pool.prune_committed(&overlay.accounts);
                assert_eq!(pool.len(), txs.len() - block_len);
                pool
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn gossip_ids(c: &mut Criterion) {
    use cpchain_consensus::lbft::Message;
    use cpchain_node::network::gossip_id;
    let spec = ChainSpec::devnet();
    // 200-byte transfers (as `pipeline_txs`, from one account: only their bytes matter).
    let txs: Vec<Vec<u8>> = (0..5_200u64)
        .map(|nonce| {
            Transaction::sign(
                &key(5),
                TxBody {
                    chain_id: spec.chain_id,
                    nonce,
                    kind: TxKind::TransferData {
                        to: Address([7; 20]),
                        amount: 1,
                        // 107 bytes with a one-byte nonce: the nonce's varint grows.
                        data: vec![0xab; if nonce < 128 { 107 } else { 106 }],
                    },
                },
            )
            .to_bytes()
        })
        .collect();
    assert!(txs.iter().all(|t| t.len() == 200));
    let batch = |n: usize| cpchain_node::ingest::encode_batch(&txs[..n]);
    let genesis = Header::genesis(&spec, Timestamp(0));
    let block = Block::propose(
        &spec,
        &genesis,
        &key(9),
        key(9).public_key().address(),
        Timestamp(3_000),
        txs[..5_200].to_vec(),
    );
    let proposal = encoding::encode_to_vec(&Message::PrePrepare(block)).expect("encodes");
    assert!(proposal.len() >= 1 << 20, "{}", proposal.len());
    let small = batch(1);
    let batch_100k = batch(502);
    assert_eq!(small.len(), 204);
    assert!(batch_100k.len() >= 100 << 10, "{}", batch_100k.len());
    let (lbft, tx) = ("/cpchain/41/lbft", "/cpchain/41/tx");
    // The id of a message that is not a VALIDATE before the change (a90933b).
    let keccak_id = |topic: &str, data: &[u8]| {
        cpchain_node::network::validate_gossip_id(topic, data)
            .or_else(|| cpchain_node::compact::gossip_id(topic, data))
            .unwrap_or_else(|| cpchain_core::keccak256(data))
    };

    let mut g = c.benchmark_group("gossip_id");
    g.sample_size(50).measurement_time(Duration::from_secs(3));
    for (name, topic, data) in [
        ("200b_tx", tx, &small),
        ("100kib_batch", tx, &batch_100k),
        ("1mib_proposal", lbft, &proposal),
    ] {
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("keccak_{name}"), |b| {
            b.iter(|| keccak_id(std::hint::black_box(topic), std::hint::black_box(data)))
        });
        g.bench_function(format!("sha256_{name}"), |b| {
            b.iter(|| gossip_id(std::hint::black_box(topic), std::hint::black_box(data)))
        });
    }
    g.finish();
}

/// Issue 14 pass 5: `Store::put_persisted` of a validator record whose `prepared_block`
/// is 1 MB (5,000 opaque 200-byte transactions), durable (fsynced), old layout (the whole
/// record, `put_persisted_whole`) against new (blocks by id, each written once).
/// `*_first_write`: each write names a block the table does not hold (the records
/// alternate between two blocks, as at a new height); `*_second_write`: the records
/// alternate between two votes of one height naming the same block (what most `Persist`
/// records of a height are).
fn persist(c: &mut Criterion) {
    let spec = ChainSpec::devnet();
    let genesis = Header::genesis(&spec, Timestamp(0));
    let stamp = ChainStamp {
        chain_id: spec.chain_id,
        genesis: genesis.id(),
        committee: cpchain_core::keccak256(b"bench"),
    };
    let dir = std::env::temp_dir().join(format!("cpchain-node-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let k = key(9);
    let blocks: Vec<Block> = (0..2u8)
        .map(|salt| {
            Block::propose(
                &spec,
                &genesis,
                &k,
                Address([salt; 20]),
                Timestamp(3_000),
                (0..5_000u32)
                    .map(|i| {
                        let mut t = vec![salt; 200];
                        t[..4].copy_from_slice(&i.to_le_bytes());
                        t
                    })
                    .collect(),
            )
        })
        .collect();
    let record = |b: &Block, kind: VoteKind| Persisted {
        chain_id: spec.chain_id,
        parent: genesis.clone(),
        round: 0,
        round_start: Timestamp(3_000),
        prepared: Some(Vote::sign(&k, spec.chain_id, kind, Height(1), 0, b.id())),
        committed: None,
        lock: None,
        prepared_block: Some(b.clone()),
        proposed: false,
        led: false,
    };
    let first = [
        record(&blocks[0], VoteKind::Prepare),
        record(&blocks[1], VoteKind::Prepare),
    ];
    let second = [
        record(&blocks[0], VoteKind::Prepare),
        record(&blocks[0], VoteKind::ImpeachPrepare),
    ];
    let mut g = c.benchmark_group("persist");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    for (layout, new) in [("old", false), ("new", true)] {
        let store = Store::open(&dir.join(format!("{layout}.redb")), stamp).expect("store");
        for (case, records) in [("first_write", &first), ("second_write", &second)] {
            let mut i = 0usize;
            g.bench_function(format!("{layout}_{case}_1mb_prepared_block"), |b| {
                b.iter(|| {
                    i += 1;
                    let r = &records[i % 2];
                    if new {
                        store.put_persisted(r).expect("write")
                    } else {
                        store.put_persisted_whole(r).expect("write")
                    }
                })
            });
        }
        if new {
            let c = store.persist_counters();
            println!("persist/new: {c:?}");
        }
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench, pipeline, persist, gossip_ids);
criterion_main!(benches);
