//! Host-side costs of the node, per transaction and per block: the raw recovery rate
//! (the limit of every signature check), transaction checking on one core and on all
//! cores, block execution, and a durable (fsynced) block write to redb.

#![allow(missing_docs)]

use cpchain_consensus::lbft::{Block, Certificate, Header, Validate, VoteKind};
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

criterion_group!(benches, bench);
criterion_main!(benches);
