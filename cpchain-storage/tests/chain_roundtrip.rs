//! Property: whatever records arrive (sizes, gaps, bursts), the chain the writer emits
//! verifies, and decrypting it gives back exactly the records, in order, with their times.

mod common;
use common::*;
use cpchain_core::Timestamp;
use cpchain_storage::*;
use proptest::prelude::*;

fn records() -> impl Strategy<Value = Vec<(u64, Vec<u8>)>> {
    prop::collection::vec(
        (0u64..2500, prop::collection::vec(any::<u8>(), 0..300)),
        1..60,
    )
    .prop_map(|v| {
        let mut t = 0;
        v.into_iter()
            .map(|(gap, data)| {
                t += gap;
                (t, data)
            })
            .collect()
    })
}

fn read_back(chain: &Chain) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    for b in &chain.blocks {
        let key = master().interval_key(&STREAM, b.header.interval);
        let opened = open_block_to_vec(b, &key).unwrap();
        out.extend(
            opened
                .records()
                .map(|r| (r.time.as_millis(), r.data.to_vec())),
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn chain_round_trips_records(recs in records()) {
        let mut w: Writer<1024> = Writer::new(STREAM, schedule(), device(), master(), &mut rng());
        let end = recs.last().map_or(0, |r| r.0) + 10_000;
        let chain = build(&mut w, &recs, end);
        let s = verify_chain(verifier(), &chain.anchors, &chain.blocks, &master()).unwrap();
        prop_assert_eq!(s.checkpoint.next_index, chain.blocks.len() as u64);
        prop_assert_eq!(s.anchored, Some(chain.blocks.len() as u64 - 1));
        prop_assert_eq!(read_back(&chain), recs);
        for b in &chain.blocks {
            let p = schedule().period_of(b.header.first_time);
            prop_assert_eq!(p, schedule().period_of(b.header.last_time));
        }
    }

    #[test]
    fn any_single_byte_flip_in_any_block_is_detected(
        recs in records(), which in any::<prop::sample::Index>(), byte in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        let mut w: Writer<1024> = Writer::new(STREAM, schedule(), device(), master(), &mut rng());
        let end = recs.last().map_or(0, |r| r.0) + 10_000;
        let chain = build(&mut w, &recs, end);
        let i = which.index(chain.blocks.len());
        let mut bytes = cpchain_core::encoding::encode_to_vec(&chain.blocks[i]).unwrap();
        let j = byte.index(bytes.len());
        bytes[j] ^= 1 << bit;
        match cpchain_core::encoding::decode::<VecBlock>(&bytes) {
            Err(_) => {}
            Ok(mutated) => {
                let mut blocks = chain.blocks.clone();
                blocks[i] = mutated;
                prop_assert!(verify_chain(verifier(), &chain.anchors, &blocks, &master()).is_err());
            }
        }
    }
}

#[test]
fn records_at_the_same_millisecond_keep_their_order() {
    let mut w = writer();
    let recs: Vec<(u64, Vec<u8>)> = (0..10u8).map(|i| (5, vec![i])).collect();
    let chain = build(&mut w, &recs, 100_000);
    assert_eq!(read_back(&chain), recs);
    assert_eq!(chain.blocks[0].header.first_time, Timestamp(5));
}
