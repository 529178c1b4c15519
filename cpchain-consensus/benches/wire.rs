//! Issue 14's wire benchmark (figures in docs/BENCHMARKS.md): the CPU a node spends per
//! message on encoding and hashing, without transaction signature recovery.
//!
//! * `decode_block_1mib`: decode (with the canonical check) a PRE-PREPARE of a 1 MiB block
//!   of 200-byte transactions; `encode_block_1mib`: encode it.
//! * `decode_tx_200`: one 200-byte transaction shaped like cpchain-node's signed
//!   `TransferData` envelope (mirrored here with the same serde attributes).
//! * `validator_proposal_1mib`: a validator taking that PRE-PREPARE from bytes up to its
//!   PREPARE vote (one seal recovery; the host's content check answered `true` at once).
//!
//! A bench of its own (not a group of `lbft`): `lbft`'s groups measure their pairing
//! ratios before criterion's filter applies, minutes that a wire measurement need not wait.

#![allow(missing_docs)] // criterion_group! generates undocumented public items

use cpchain_consensus::lbft::*;
use cpchain_core::{ChainSpec, Timestamp};
use cpchain_crypto::SecretKey;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::Duration;

fn secret(seed: u32) -> SecretKey {
    let mut b = [0u8; 32];
    b[0] = 0x42;
    b[28..].copy_from_slice(&seed.to_be_bytes());
    SecretKey::from_bytes(&b).unwrap()
}

/// Mirror of cpchain-node's signed `TransferData` envelope (same field shapes and serde
/// attributes), so the bench measures a transaction's decoding without depending on the node.
mod tx200 {
    use cpchain_core::{Address, WireMessage};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum Kind {
        Transfer {
            to: Address,
            amount: u128,
        },
        JoinRNodes {
            amount: u128,
        },
        Campaign(u64),
        TransferData {
            to: Address,
            amount: u128,
            #[serde(
                serialize_with = "cpchain_core::encoding::bytes::serialize",
                deserialize_with = "cpchain_core::encoding::bounded_bytes::<_, 1024>"
            )]
            data: Vec<u8>,
        },
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Body {
        pub chain_id: u64,
        pub nonce: u64,
        pub kind: Kind,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Tx {
        pub body: Body,
        #[serde(with = "cpchain_core::fixed_bytes")]
        pub signature: [u8; 65],
    }

    impl WireMessage for Tx {
        const TAG: u16 = 0x7f10;
        const MAX_ENCODED_LEN: usize = 2048;
    }

    /// A 200-byte encoding, as issue 14's benchmark feeds.
    pub fn sample(nonce: u64) -> Tx {
        Tx {
            body: Body {
                chain_id: 1337,
                nonce,
                kind: Kind::TransferData {
                    to: Address([9; 20]),
                    amount: 1_000,
                    data: vec![0x5a; 105],
                },
            },
            signature: [7; 65],
        }
    }
}

fn wire(c: &mut Criterion) {
    use cpchain_core::encoding::{decode, encode_to_vec};
    let spec = ChainSpec::devnet();
    let keys: Vec<SecretKey> = (0..4).map(|i| secret(1000 + i)).collect();
    let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    let set = ValidatorSet::new(&pubs).unwrap();
    let proposer = secret(5000);
    let schedule = FixedSchedule::new(vec![proposer.public_key().address()]);
    let genesis = Header::genesis(&spec, Timestamp(1_000_000));
    let cfg = Config::new(spec.clone(), set, keys[0].clone());
    let from = keys[1].public_key().address();
    let now = genesis.timestamp + spec.block_period;
    let tx = encode_to_vec(&tx200::sample(1)).unwrap();
    assert_eq!(tx.len(), 200);
    let count = MAX_BLOCK_BYTES / 200;
    let txs: Vec<Vec<u8>> = (0..count as u64)
        .map(|i| encode_to_vec(&tx200::sample(i % 100)).unwrap())
        .collect();
    let block = Block::propose(
        &spec,
        &genesis,
        &proposer,
        proposer.public_key().address(),
        now,
        txs,
    );
    let msg = Message::PrePrepare(block.clone());
    let bytes = encode_to_vec(&msg).unwrap();
    eprintln!(
        "lbft_wire: block of {count} transactions, {} bytes encoded",
        bytes.len()
    );
    let mut g = c.benchmark_group("lbft_wire");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_block_1mib", |b| {
        b.iter(|| decode::<Message>(black_box(&bytes)).unwrap())
    });
    g.bench_function("encode_block_1mib", |b| {
        b.iter(|| encode_to_vec(black_box(&msg)).unwrap())
    });
    g.bench_function("validator_proposal_1mib", |b| {
        b.iter_batched(
            || {
                let mut v = Validator::new(
                    cfg.clone(),
                    schedule.clone(),
                    genesis.clone(),
                    genesis.timestamp,
                )
                .unwrap();
                while v.poll_output().is_some() {}
                v
            },
            |mut v| {
                let _ = v.handle_bytes(now, from, black_box(&bytes));
                let mut prepared = false;
                while let Some(out) = v.poll_output() {
                    match out {
                        ValidatorOutput::CheckBlock { block, .. } => {
                            v.block_checked(now, block.id(), true);
                        }
                        ValidatorOutput::Broadcast(Message::Vote(_)) => prepared = true,
                        _ => {}
                    }
                }
                assert!(prepared);
                v
            },
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.sample_size(50);
    g.bench_function("decode_tx_200", |b| {
        b.iter(|| decode::<tx200::Tx>(black_box(&tx)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
