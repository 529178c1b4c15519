//! The C validator's `FAULT` bytes are the Rust evidence of the same fault, byte for byte,
//! and `cpchain_lbft_verify_evidence` names the offender as `verify_evidence` does (the C
//! test `tests/c/test_lbft_dpor.c` provokes each fault through the C API alone).
//!
//! SAFETY (for every `unsafe` call below, hence the lint allowance): each pointer passed
//! points to a live local of exactly the length passed with it, and each handle is live until
//! its one `_free` call.
#![allow(clippy::undocumented_unsafe_blocks)]
#![allow(clippy::multiple_unsafe_ops_per_block)]

use cpchain_consensus::evidence::{verify_evidence, Evidence, OffenceKind};
use cpchain_consensus::lbft::{
    leader, Block, Config, FixedSchedule, Header, Message, Proposal, Validator, ValidatorOutput,
    ValidatorSet, Vote, VoteKind,
};
use cpchain_core::encoding::encode_to_vec;
use cpchain_core::{Address, ChainSpec, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_ffi::*;
use std::ptr;

const T0: u64 = 1_000_000;

struct Net {
    spec: ChainSpec,
    keys: Vec<SecretKey>,
    set: ValidatorSet,
    pks: Vec<[u8; 33]>,
    addrs: Vec<[u8; 20]>,
}

fn net() -> Net {
    let spec = ChainSpec::devnet();
    let mut keys: Vec<SecretKey> = (0..4u8)
        .map(|i| SecretKey::from_bytes(&[0x70 + i; 32]).unwrap())
        .collect();
    keys.sort_by_key(|k| k.public_key().address());
    let set = ValidatorSet::new(&keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
    let pks = keys
        .iter()
        .map(|k| k.public_key().to_compressed())
        .collect();
    let addrs = keys.iter().map(|k| k.public_key().address().0).collect();
    Net {
        spec,
        keys,
        set,
        pks,
        addrs,
    }
}

/// Validator 0 in Rust and in C, fed `msgs` from validator 1; the Rust fault's evidence
/// bytes, and the C `FAULT` output's bytes and info.
fn both_see(n: &Net, msgs: &[Message]) -> (Vec<u8>, Vec<u8>, cpchain_lbft_output_info) {
    let genesis = Header::genesis(&n.spec, Timestamp(T0));
    let schedule = FixedSchedule::new(n.addrs.iter().map(|a| Address(*a)).collect());
    let cfg = Config::new(n.spec.clone(), n.set.clone(), n.keys[0].clone());
    let mut rust = Validator::new(cfg, schedule, genesis.clone(), Timestamp(T0)).unwrap();
    let now = Timestamp(T0) + n.spec.block_period;
    let mut rust_fault = None;
    for m in msgs {
        let _ = rust.handle_message(now, Address(n.addrs[1]), m.clone());
        while let Some(o) = rust.poll_output() {
            if let ValidatorOutput::Fault(f) = o {
                rust_fault.get_or_insert(f);
            }
        }
    }
    let rust_bytes = encode_to_vec(&Evidence::from_fault(&rust_fault.unwrap()).unwrap()).unwrap();

    let (mut spec_h, mut key_h, mut v) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let seed = n.keys[0].to_bytes();
    let parent = encode_to_vec(&genesis).unwrap();
    unsafe {
        assert_eq!(cpchain_chain_spec_devnet(&mut spec_h), cpchain_result::Ok);
        assert_eq!(
            cpchain_secret_key_from_bytes(seed.as_ptr(), 32, &mut key_h),
            cpchain_result::Ok
        );
        assert_eq!(
            cpchain_lbft_validator_new(
                spec_h,
                key_h,
                n.pks.as_ptr().cast(),
                4,
                n.addrs.as_ptr().cast(),
                4,
                0,
                parent.as_ptr(),
                parent.len(),
                T0,
                &mut v,
            ),
            cpchain_result::Ok
        );
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut c_fault = None;
    for m in msgs {
        let bytes = encode_to_vec(m).unwrap();
        let r = unsafe {
            cpchain_lbft_validator_handle_bytes(
                v,
                now.0,
                n.addrs[1].as_ptr(),
                20,
                bytes.as_ptr(),
                bytes.len(),
                ptr::null_mut(),
            )
        };
        assert_ne!(r, cpchain_result::Panic);
        loop {
            let (mut len, mut kind, mut info) = (0usize, cpchain_lbft_output_kind::None, unsafe {
                std::mem::zeroed()
            });
            let r = unsafe {
                cpchain_lbft_validator_poll(
                    v,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut len,
                    &mut kind,
                    &mut info,
                )
            };
            if r == cpchain_result::NoOutput {
                break;
            }
            assert_eq!(r, cpchain_result::Ok);
            if kind == cpchain_lbft_output_kind::Fault && c_fault.is_none() {
                c_fault = Some((buf[..len].to_vec(), info));
            }
        }
    }
    unsafe {
        cpchain_lbft_validator_free(v);
        cpchain_secret_key_free(key_h);
        cpchain_chain_spec_free(spec_h);
    }
    let (c_bytes, info) = c_fault.unwrap();
    (rust_bytes, c_bytes, info)
}

/// `cpchain_lbft_verify_evidence` on `bytes`.
fn c_verify(n: &Net, bytes: &[u8]) -> (cpchain_result, cpchain_lbft_offence) {
    let mut spec_h = ptr::null_mut();
    let mut o: cpchain_lbft_offence = unsafe { std::mem::zeroed() };
    let r = unsafe {
        assert_eq!(cpchain_chain_spec_devnet(&mut spec_h), cpchain_result::Ok);
        let r = cpchain_lbft_verify_evidence(
            spec_h,
            n.pks.as_ptr().cast(),
            4,
            bytes.as_ptr(),
            bytes.len(),
            &mut o,
        );
        cpchain_chain_spec_free(spec_h);
        r
    };
    (r, o)
}

#[test]
fn leader_equivocation_bytes_agree_and_name_the_leader() {
    let n = net();
    let lead = leader(&n.set, Height(1), 1).unwrap();
    let k = n
        .keys
        .iter()
        .find(|k| k.public_key().address() == lead)
        .unwrap();
    let genesis = Header::genesis(&n.spec, Timestamp(T0));
    let imp = Block::impeach(&n.spec, &genesis, Address(n.addrs[0]));
    let other = Block::impeach(&n.spec, &genesis, Address(n.addrs[1]));
    let id = n.spec.chain_id;
    let msgs = [
        Message::Proposal(Proposal::sign(k, id, Height(1), 1, imp, None)),
        Message::Proposal(Proposal::sign(k, id, Height(1), 1, other, None)),
    ];
    let (rust, c, info) = both_see(&n, &msgs);
    assert_eq!(rust, c);
    assert_eq!(info.fault, cpchain_lbft_fault::LeaderEquivocation);
    assert_eq!(info.peer, lead.0);
    let (r, o) = c_verify(&n, &c);
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(o.fault, cpchain_lbft_fault::LeaderEquivocation);
    assert_eq!(
        (o.offender, o.height, o.has_round, o.round),
        (lead.0, 1, true, 1)
    );
    let ev = cpchain_core::encoding::decode::<Evidence>(&c).unwrap();
    let rust_o = verify_evidence(id, &n.set, &ev).unwrap();
    assert_eq!(
        (rust_o.kind, rust_o.offender),
        (OffenceKind::LeaderEquivocation, lead)
    );
}

#[test]
fn vote_equivocation_bytes_agree_and_name_the_voter() {
    let n = net();
    let genesis = Header::genesis(&n.spec, Timestamp(T0));
    let b = Block::impeach(&n.spec, &genesis, Address(n.addrs[0]));
    let vote = |kind, block| Vote::sign(&n.keys[2], n.spec.chain_id, kind, Height(1), 0, block);
    let mut other = b.id();
    other.0[0] ^= 1;
    let msgs = [
        Message::Vote(vote(VoteKind::ImpeachPrepare, b.id())),
        Message::Vote(vote(VoteKind::Prepare, other)),
    ];
    let (rust, c, info) = both_see(&n, &msgs);
    assert_eq!(rust, c);
    assert_eq!(info.fault, cpchain_lbft_fault::Equivocation);
    let (r, o) = c_verify(&n, &c);
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(
        (o.fault, o.offender),
        (cpchain_lbft_fault::Equivocation, n.addrs[2])
    );
    // One byte of a signature flipped: refused, nobody named.
    let mut t = c.clone();
    let last = t.len() - 2;
    t[last] ^= 1;
    let (r, o) = c_verify(&n, &t);
    assert_ne!(r, cpchain_result::Ok);
    assert_eq!(o.fault, cpchain_lbft_fault::None);
    assert_eq!(o.offender, [0; 20]);
}
