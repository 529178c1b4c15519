//! The schedule and restore entry points agree with the Rust machines they wrap: the same
//! proposer for every height of several terms, the same committee from an election, and a
//! restored validator at the same height and round with the same first outputs.
//!
//! SAFETY (for every `unsafe` call below, hence the lint allowance): each pointer passed
//! points to a live local of exactly the length passed with it, and each handle is live until
//! its one `_free` call.
#![allow(clippy::undocumented_unsafe_blocks)]
// One SAFETY argument (above) covers every call, so calls are grouped per step.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use cpchain_consensus::dpor::{Candidate, Rpt, Schedule, DEFAULT_SCHEDULE_CAPACITY};
use cpchain_consensus::lbft::{
    Config, FixedSchedule, Header, Persisted, Validator, ValidatorOutput, ValidatorSet,
};
use cpchain_core::encoding::{decode, encode_to_vec};
use cpchain_core::{Address, ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_ffi::*;
use std::ptr;

#[test]
fn schedule_proposers_match_the_rust_schedule() {
    let spec = ChainSpec::mainnet();
    let defaults: Vec<[u8; 20]> = (0..14u8).map(|i| [0x80 + i; 20]).collect();
    let cands: Vec<cpchain_candidate> = (0..20u8)
        .map(|i| cpchain_candidate {
            address: [0x10 + i; 20],
            rpt: 100 * u32::from(i) + 7,
        })
        .collect();
    let mut rust = Schedule::new(
        &spec,
        &defaults.iter().map(|a| Address(*a)).collect::<Vec<_>>(),
        DEFAULT_SCHEDULE_CAPACITY,
    )
    .unwrap();
    let rc: Vec<Candidate> = cands
        .iter()
        .map(|c| Candidate {
            address: Address(c.address),
            rpt: Rpt(c.rpt),
        })
        .collect();
    let mut spec_h = ptr::null_mut();
    let mut s = ptr::null_mut();
    unsafe {
        assert_eq!(cpchain_chain_spec_mainnet(&mut spec_h), cpchain_result::Ok);
        assert_eq!(
            cpchain_dpor_schedule_new(spec_h, defaults.as_ptr().cast(), 14, 64, &mut s),
            cpchain_result::Ok
        );
    }
    for (checkpoint, seed) in [(72u64, 1u8), (108, 2), (144, 3)] {
        let hash = [seed; 32];
        let want = rust.elect_at(Height(checkpoint), &Hash(hash), &rc).unwrap();
        let mut term = 0;
        let r = unsafe {
            cpchain_dpor_schedule_elect_at(
                s,
                checkpoint,
                hash.as_ptr(),
                32,
                cands.as_ptr(),
                20,
                &mut term,
            )
        };
        assert_eq!(r, cpchain_result::Ok);
        assert_eq!(term, want.get());
    }
    for h in 0..=260u64 {
        let mut addr = [0u8; 20];
        let mut slot = std::mem::MaybeUninit::<cpchain_dpor_slot>::uninit();
        let r = unsafe { cpchain_dpor_schedule_proposer_of(s, h, addr.as_mut_ptr(), 20) };
        assert_eq!(
            unsafe { cpchain_dpor_schedule_slot(s, h, slot.as_mut_ptr()) },
            cpchain_result::Ok
        );
        let slot = unsafe { slot.assume_init() };
        match rust.proposer_of(Height(h)) {
            Some(a) => {
                assert_eq!(r, cpchain_result::Ok, "height {h}");
                assert_eq!(addr, a.0);
                assert!(slot.has_proposer && slot.proposer == a.0);
            }
            None => {
                assert_eq!(r, cpchain_result::DporNoProposer, "height {h}");
                assert!(!slot.has_proposer);
            }
        }
        assert_eq!(slot.term, rust.term_of(Height(h)).get());
        assert_eq!(slot.is_checkpoint, rust.is_checkpoint(Height(h)));
        assert_eq!(slot.is_default, rust.is_default_height(Height(h)));
    }
    unsafe {
        cpchain_dpor_schedule_free(s);
        cpchain_chain_spec_free(spec_h);
    }
}

#[test]
fn restore_matches_the_rust_validator() {
    let spec = ChainSpec::devnet();
    let keys: Vec<SecretKey> = (0..4u8)
        .map(|i| SecretKey::from_bytes(&[0x70 + i; 32]).unwrap())
        .collect();
    let pks: Vec<[u8; 33]> = keys
        .iter()
        .map(|k| k.public_key().to_compressed())
        .collect();
    let addrs: Vec<[u8; 20]> = keys.iter().map(|k| k.public_key().address().0).collect();
    let set = ValidatorSet::new(&keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let rotation = FixedSchedule::new(addrs.iter().map(|a| Address(*a)).collect());
    let t0 = Timestamp(1_000_000);
    let mut v = Validator::new(
        Config::new(spec.clone(), set.clone(), keys[0].clone()),
        rotation.clone(),
        Header::genesis(&spec, t0),
        t0,
    )
    .unwrap();
    v.propose(
        Timestamp(t0.0 + spec.block_period.as_millis()),
        vec![vec![9]],
    )
    .unwrap();
    let mut record = Vec::new();
    while let Some(o) = v.poll_output() {
        if let ValidatorOutput::Persist(p) = o {
            record = encode_to_vec(&p).unwrap();
        }
    }
    let p: Persisted = decode(&record).unwrap();
    let (head, since) = (p.parent.clone(), p.round_start);
    let cfg = Config::new(spec.clone(), set, keys[0].clone());
    let mut rust = Validator::restart(cfg, rotation, Some(p), head, [], since).unwrap();

    let mut spec_h = ptr::null_mut();
    let mut key_h = ptr::null_mut();
    let mut c = ptr::null_mut();
    unsafe {
        assert_eq!(cpchain_chain_spec_devnet(&mut spec_h), cpchain_result::Ok);
        assert_eq!(
            cpchain_secret_key_from_bytes([0x70u8; 32].as_ptr(), 32, &mut key_h),
            cpchain_result::Ok
        );
        assert_eq!(
            cpchain_lbft_validator_restore(
                spec_h,
                key_h,
                pks.as_ptr().cast(),
                4,
                addrs.as_ptr().cast(),
                4,
                0,
                record.as_ptr(),
                record.len(),
                &mut c,
            ),
            cpchain_result::Ok
        );
    }
    let (mut h, mut r) = (0u64, 0u32);
    assert_eq!(
        unsafe { cpchain_lbft_validator_position(c, &mut h, &mut r) },
        cpchain_result::Ok
    );
    assert_eq!((h, r), (rust.height().0, rust.round()));
    // The same outputs, byte for byte, in the same order.
    let mut buf = vec![0u8; 1 << 16];
    let mut seen = 0;
    while let Some(o) = rust.poll_output() {
        seen += 1;
        let want = match o {
            ValidatorOutput::Broadcast(m) => encode_to_vec(&m).unwrap(),
            ValidatorOutput::Persist(p) => encode_to_vec(&p).unwrap(),
            other => panic!("unexpected {other:?}"),
        };
        let mut n = 0;
        let mut kind = cpchain_lbft_output_kind::None;
        let mut info = std::mem::MaybeUninit::<cpchain_lbft_output_info>::uninit();
        let res = unsafe {
            cpchain_lbft_validator_poll(
                c,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
                &mut kind,
                info.as_mut_ptr(),
            )
        };
        assert_eq!(res, cpchain_result::Ok);
        assert_eq!(&buf[..n], want.as_slice());
    }
    assert!(seen > 0, "a restored validator announces its round");
    unsafe {
        cpchain_lbft_validator_free(c);
        cpchain_secret_key_free(key_h);
        cpchain_chain_spec_free(spec_h);
    }
}
