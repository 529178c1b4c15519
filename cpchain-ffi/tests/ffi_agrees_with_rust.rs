//! The C API computes exactly what the Rust SDK computes: every FFI function is called here
//! through its C signature and its output compared with the Rust API's, on fixed and on
//! random inputs (including garbage, which must come back as the matching error code).
//!
//! SAFETY (for every `unsafe` call below, hence the lint allowance): each pointer passed
//! points to a live local array, slice or variable of exactly the length passed with it, and
//! each handle is live until the one `_free` call on it.
#![allow(clippy::undocumented_unsafe_blocks)]

use cpchain_core::encoding::{self, signing_digest};
use cpchain_core::{keccak256, Address, ChainSpec, Domain, Hash};
use cpchain_crypto::aead::{seal_in_place, AeadKey, Nonce};
use cpchain_crypto::{SecretKey, Signature};
use cpchain_ffi::*;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::ptr;

const DOMAIN: &str = "cpchain/ffi-test/rust/v1";

/// A key handle and the same key in Rust, from one seed.
fn key_pair(seed: [u8; 32]) -> (*mut cpchain_secret_key, SecretKey) {
    let mut handle = ptr::null_mut();
    // SAFETY: seed is 32 readable bytes, handle a writable pointer.
    let r = unsafe { cpchain_secret_key_from_seed(seed.as_ptr(), seed.len(), &mut handle) };
    assert_eq!(r, cpchain_result::Ok);
    let rust = SecretKey::random(&mut ChaCha20Rng::from_seed(seed));
    (handle, rust)
}

#[test]
fn keccak_and_signing_digest_match_core() {
    let data = b"gateway reading 42";
    let mut out = [0u8; CPCHAIN_HASH_LEN];
    let r = unsafe { cpchain_keccak256(data.as_ptr(), data.len(), out.as_mut_ptr(), out.len()) };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Hash(out), keccak256(data));

    let r = unsafe {
        cpchain_signing_digest(
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            data.as_ptr(),
            data.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Hash(out), signing_digest(&Domain::new(DOMAIN), data));
}

#[test]
fn signatures_match_rust_both_ways() {
    let (handle, rust) = key_pair([9; 32]);
    let payload = b"anchor 7";

    // Signed through C, identical bytes to Rust's domain-separated signature.
    let mut sig = [0u8; CPCHAIN_SIGNATURE_LEN];
    let r = unsafe {
        cpchain_secret_key_sign(
            handle,
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            payload.as_ptr(),
            payload.len(),
            sig.as_mut_ptr(),
            sig.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    let rust_sig = rust.sign(&Domain::new(DOMAIN), payload);
    assert_eq!(sig, rust_sig.to_bytes());

    // A Rust signature verifies through C under the Rust public key.
    let pk = rust.public_key().to_compressed();
    let r = unsafe {
        cpchain_public_key_verify_payload(
            pk.as_ptr(),
            pk.len(),
            DOMAIN.as_ptr().cast(),
            DOMAIN.len(),
            payload.as_ptr(),
            payload.len(),
            sig.as_ptr(),
            sig.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);

    // Prehash signing and address recovery agree with Rust.
    let digest = keccak256(b"header");
    let r = unsafe {
        cpchain_secret_key_sign_prehash(handle, digest.0.as_ptr(), 32, sig.as_mut_ptr(), sig.len())
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(sig, rust.sign_prehash(&digest).to_bytes());
    let mut addr = [0u8; CPCHAIN_ADDRESS_LEN];
    let r = unsafe {
        cpchain_signature_recover_address(
            sig.as_ptr(),
            sig.len(),
            digest.0.as_ptr(),
            32,
            addr.as_mut_ptr(),
            addr.len(),
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(Address(addr), rust.public_key().address());

    unsafe { cpchain_secret_key_free(handle) };
}

#[test]
fn aead_in_place_matches_rust_vec_sealing() {
    let key = [3u8; 32];
    let nonce = [5u8; 12];
    let aad = b"stream 1";
    let msg = b"temperature=21.5";
    let mut rust_buf = msg.to_vec();
    seal_in_place(&AeadKey::from_bytes(key), &Nonce(nonce), aad, &mut rust_buf).unwrap();

    let mut buf = [0u8; 64];
    buf[..msg.len()].copy_from_slice(msg);
    let mut out_len = 0usize;
    let r = unsafe {
        cpchain_aead_seal_in_place(
            key.as_ptr(),
            32,
            nonce.as_ptr(),
            12,
            aad.as_ptr(),
            aad.len(),
            buf.as_mut_ptr(),
            msg.len(),
            buf.len(),
            &mut out_len,
        )
    };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(&buf[..out_len], &rust_buf[..]);
}

#[test]
fn chain_spec_wire_bytes_match_rust() {
    let mut handle = ptr::null_mut();
    assert_eq!(
        unsafe { cpchain_chain_spec_mainnet(&mut handle) },
        cpchain_result::Ok
    );
    let mut buf = [0u8; CPCHAIN_CHAIN_SPEC_MAX_ENCODED_LEN];
    let mut len = 0usize;
    let r = unsafe { cpchain_chain_spec_encode(handle, buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(r, cpchain_result::Ok);
    let rust = encoding::encode_to_vec(&ChainSpec::mainnet()).unwrap();
    assert_eq!(&buf[..len], &rust[..]);
    unsafe { cpchain_chain_spec_free(handle) };

    // Rust-encoded devnet bytes decode through C.
    let dev = encoding::encode_to_vec(&ChainSpec::devnet()).unwrap();
    let mut decoded = ptr::null_mut();
    let r = unsafe { cpchain_chain_spec_decode(dev.as_ptr(), dev.len(), &mut decoded) };
    assert_eq!(r, cpchain_result::Ok);
    let mut quorum = 0u32;
    let r = unsafe { cpchain_chain_spec_quorum(decoded, &mut quorum) };
    assert_eq!(r, cpchain_result::Ok);
    assert_eq!(quorum, ChainSpec::devnet().quorum());
    unsafe { cpchain_chain_spec_free(decoded) };
}

#[test]
fn result_message_matches_the_enum() {
    for code in cpchain_result::ALL {
        let mut buf = [0u8; CPCHAIN_RESULT_MESSAGE_MAX];
        let mut n = 0usize;
        let r = unsafe {
            cpchain_result_message(*code as u32, buf.as_mut_ptr().cast(), buf.len(), &mut n)
        };
        assert_eq!(r, cpchain_result::Ok);
        assert_eq!(&buf[..n], code.message().as_bytes());
        assert_eq!(buf[n], 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn address_text_agrees_with_rust(text in "(0x)?[0-9a-fA-Fg-z]{0,44}") {
        let mut out = [0u8; CPCHAIN_ADDRESS_LEN];
        let r = unsafe {
            cpchain_address_parse(text.as_ptr().cast(), text.len(), out.as_mut_ptr(), out.len())
        };
        match text.parse::<Address>() {
            Ok(a) => {
                prop_assert_eq!(r, cpchain_result::Ok);
                prop_assert_eq!(Address(out), a);
            }
            Err(e) => prop_assert_eq!(r, cpchain_result::from(e)),
        }
    }

    #[test]
    fn address_checksum_agrees_with_display(bytes in any::<[u8; 20]>()) {
        let mut buf = [0u8; CPCHAIN_ADDRESS_TEXT_LEN + 1];
        let mut n = 0usize;
        let r = unsafe {
            cpchain_address_to_checksum(bytes.as_ptr(), 20, buf.as_mut_ptr().cast(), buf.len(), &mut n)
        };
        prop_assert_eq!(r, cpchain_result::Ok);
        prop_assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), Address(bytes).to_string());
    }

    #[test]
    fn signature_validation_agrees_with_rust(bytes in prop::collection::vec(any::<u8>(), 65)) {
        let arr: [u8; 65] = bytes.clone().try_into().unwrap();
        let r = unsafe { cpchain_signature_validate(bytes.as_ptr(), bytes.len()) };
        match Signature::from_bytes(&arr) {
            Ok(_) => prop_assert_eq!(r, cpchain_result::Ok),
            Err(e) => prop_assert_eq!(r, cpchain_result::from(e)),
        }
    }

    #[test]
    fn spec_decoding_agrees_with_rust(
        envelope in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        // Half the inputs carry a valid envelope, so the body parser is reached.
        let mut bytes = if envelope { vec![1, 0, 1] } else { Vec::new() };
        bytes.extend_from_slice(&body);
        let mut out = ptr::null_mut();
        let r = unsafe { cpchain_chain_spec_decode(bytes.as_ptr(), bytes.len(), &mut out) };
        let rust = encoding::decode::<ChainSpec>(&bytes)
            .map_err(cpchain_result::from)
            .and_then(|s| s.validate().map_err(cpchain_result::from));
        match rust {
            Ok(()) => prop_assert_eq!(r, cpchain_result::Ok),
            Err(e) => {
                prop_assert_eq!(r, e);
                prop_assert!(out.is_null());
            }
        }
        unsafe { cpchain_chain_spec_free(out) };
    }
}

mod data_chain {
    use super::*;
    use cpchain_core::{Duration, Timestamp};
    use cpchain_storage::{
        open_block_to_vec, verify_chain, ChainVerifier, Checkpoint, MasterSecret, NoKeys, Schedule,
        SessionSalt, StreamId, VecBlock, Writer, WriterOutput,
    };

    const STREAM: [u8; 32] = [0x17; 32];
    const MASTER: [u8; 32] = [0x29; 32];
    const SCHED: cpchain_chain_schedule = cpchain_chain_schedule {
        period_ms: 1000,
        encryption_interval_ms: 4000,
        upload_interval_ms: 3000,
    };

    /// The session entropy both writers get (a hardware RNG's bytes on a gateway).
    const SESSION: [u8; 32] = [0x5e; 32];

    enum Step {
        Append(u64, Vec<u8>),
        Timeout(u64),
    }

    /// Run the steps through the C writer; collect (kind, bytes) outputs.
    fn run_c(seed: [u8; 32], steps: &[Step]) -> Vec<(u32, Vec<u8>, cpchain_result)> {
        let (key, _) = key_pair(seed);
        let mut w = ptr::null_mut();
        let r = unsafe {
            cpchain_chain_writer_new(
                STREAM.as_ptr(),
                32,
                &SCHED,
                key,
                MASTER.as_ptr(),
                32,
                ptr::null(),
                SESSION.as_ptr(),
                SESSION.len(),
                &mut w,
            )
        };
        assert_eq!(r, cpchain_result::Ok);
        let mut outs = Vec::new();
        let mut buf = vec![0u8; CPCHAIN_CHAIN_OUTPUT_MAX_LEN];
        for s in steps {
            let r = match s {
                Step::Append(t, rec) => unsafe {
                    cpchain_chain_writer_append(w, *t, rec.as_ptr(), rec.len())
                },
                Step::Timeout(t) => unsafe { cpchain_chain_writer_handle_timeout(w, *t) },
            };
            outs.push((u32::MAX, Vec::new(), r));
            loop {
                let mut n = 0usize;
                let mut kind = cpchain_chain_output_kind::None;
                let r = unsafe {
                    cpchain_chain_writer_poll(w, buf.as_mut_ptr(), buf.len(), &mut n, &mut kind)
                };
                if r == cpchain_result::NoOutput {
                    break;
                }
                assert_eq!(r, cpchain_result::Ok);
                outs.push((kind as u32, buf[..n].to_vec(), r));
            }
        }
        unsafe { cpchain_chain_writer_free(w) };
        unsafe { cpchain_secret_key_free(key) };
        outs
    }

    /// The same steps through the Rust writer.
    fn run_rust(seed: [u8; 32], steps: &[Step]) -> Vec<(u32, Vec<u8>, cpchain_result)> {
        let (_, device) = key_pair_rust(seed);
        let schedule = Schedule::new(
            Duration::from_millis(1000),
            Duration::from_millis(4000),
            Duration::from_millis(3000),
        )
        .unwrap();
        let salt = SessionSalt::from_entropy(&device.public_key().address(), &SESSION);
        let mut w: Writer<CPCHAIN_CHAIN_BLOCK_CAP> = Writer::with_salt(
            StreamId(STREAM),
            schedule,
            device,
            MasterSecret::from_bytes(MASTER),
            Checkpoint::GENESIS,
            salt,
        );
        let mut outs = Vec::new();
        for s in steps {
            let r = match s {
                Step::Append(t, rec) => w
                    .append(Timestamp(*t), rec)
                    .map_or_else(cpchain_result::from, |_| cpchain_result::Ok),
                Step::Timeout(t) => {
                    w.handle_timeout(Timestamp(*t));
                    cpchain_result::Ok
                }
            };
            outs.push((u32::MAX, Vec::new(), r));
            while let Some(o) = w.poll_output() {
                let mut buf = vec![0u8; CPCHAIN_CHAIN_OUTPUT_MAX_LEN];
                let (k, n) = match o {
                    WriterOutput::Block(b) => (1, b.encode_to_slice(&mut buf).unwrap().len()),
                    WriterOutput::Anchor(a) => {
                        (2, encoding::encode_to_slice(&a, &mut buf).unwrap().len())
                    }
                };
                outs.push((k, buf[..n].to_vec(), cpchain_result::Ok));
            }
        }
        outs
    }

    fn key_pair_rust(seed: [u8; 32]) -> ((), SecretKey) {
        ((), SecretKey::random(&mut ChaCha20Rng::from_seed(seed)))
    }

    fn steps_from(raw: &[(u16, u8, bool)]) -> Vec<Step> {
        let mut t = 0u64;
        raw.iter()
            .map(|&(dt, len, timeout)| {
                // Mostly forward in time, sometimes backwards (refused alike by both).
                t = if dt % 17 == 0 {
                    t.saturating_sub(50)
                } else {
                    t + u64::from(dt)
                };
                if timeout {
                    Step::Timeout(t)
                } else {
                    Step::Append(t, vec![len; usize::from(len) * 8])
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn writer_outputs_and_errors_match_rust(
            seed in any::<[u8; 32]>(),
            raw in proptest::collection::vec((0u16..1500, any::<u8>(), any::<bool>()), 1..40),
        ) {
            let steps = steps_from(&raw);
            let c = run_c(seed, &steps);
            let rust = run_rust(seed, &steps);
            prop_assert_eq!(&c, &rust);

            // The C reader agrees with the Rust reader on the produced chain.
            let blocks: Vec<&Vec<u8>> = c.iter().filter(|o| o.0 == 1).map(|o| &o.1).collect();
            let anchors: Vec<&Vec<u8>> = c.iter().filter(|o| o.0 == 2).map(|o| &o.1).collect();
            let items = |v: &[&Vec<u8>]| -> Vec<cpchain_bytes> {
                v.iter().map(|b| cpchain_bytes { ptr: b.as_ptr(), len: b.len() }).collect()
            };
            let (bi, ai) = (items(&blocks), items(&anchors));
            let (_, device) = key_pair_rust(seed);
            let pk = device.public_key().to_compressed();
            let mut sum = std::mem::MaybeUninit::<cpchain_chain_summary>::uninit();
            let r = unsafe {
                cpchain_chain_verify(STREAM.as_ptr(), 32, pk.as_ptr(), pk.len(), &SCHED,
                    ptr::null(), ai.as_ptr(), ai.len(), bi.as_ptr(), bi.len(),
                    ptr::null(), 0, sum.as_mut_ptr())
            };
            prop_assert_eq!(r, cpchain_result::Ok);
            let sum = unsafe { sum.assume_init() };
            let rb: Vec<VecBlock> = blocks.iter().map(|b| encoding::decode(b).unwrap()).collect();
            let ra: Vec<_> = anchors.iter().map(|a| encoding::decode(a).unwrap()).collect();
            let schedule = Schedule::new(Duration::from_millis(1000), Duration::from_millis(4000),
                Duration::from_millis(3000)).unwrap();
            let verifier = ChainVerifier::new(StreamId(STREAM), device.public_key(), schedule);
            let rs = verify_chain(verifier, &ra, &rb, &NoKeys).unwrap();
            prop_assert_eq!(sum.checkpoint.next_index, rs.checkpoint.next_index);
            prop_assert_eq!(sum.checkpoint.head, rs.checkpoint.head.0 .0);
            prop_assert_eq!(sum.has_anchor, rs.anchored.is_some());
            prop_assert_eq!(sum.anchored_index, rs.anchored.unwrap_or(0));

            // Opening every block through C gives Rust's records.
            let master = MasterSecret::from_bytes(MASTER);
            for (bytes, b) in blocks.iter().zip(&rb) {
                let key = master.interval_key(&StreamId(STREAM), b.header.interval);
                let mut out = vec![0u8; bytes.len() * 2];
                let (mut n, mut count) = (0usize, 0usize);
                let r = unsafe {
                    cpchain_chain_open_block(bytes.as_ptr(), bytes.len(),
                        key.aead_key().expose_secret().as_ptr(), 32, out.as_mut_ptr(), out.len(),
                        &mut n, &mut count)
                };
                prop_assert_eq!(r, cpchain_result::Ok);
                let opened = open_block_to_vec(b, &key).unwrap();
                let want: Vec<(u64, Vec<u8>)> =
                    opened.records().map(|r| (r.time.as_millis(), r.data.to_vec())).collect();
                let mut got = Vec::new();
                let mut off = 0usize;
                loop {
                    let (mut t, mut d, mut dl) = (0u64, ptr::null(), 0usize);
                    let r = unsafe { cpchain_records_next(out.as_ptr(), n, &mut off, &mut t, &mut d, &mut dl) };
                    if r == cpchain_result::NoOutput { break; }
                    prop_assert_eq!(r, cpchain_result::Ok);
                    got.push((t, unsafe { std::slice::from_raw_parts(d, dl) }.to_vec()));
                }
                prop_assert_eq!(count, want.len());
                prop_assert_eq!(got, want);
            }
        }
    }
}

mod lbft_light {
    use super::*;
    use cpchain_consensus::dpor::{compute_rpt, elect, Candidate, Observation, Rpt};
    use cpchain_consensus::lbft::{
        verify_validate, Block, Certificate, FixedSchedule, Header, ImpeachQuorum, Message,
        Validate, ValidatorSet, Vote, VoteKind,
    };
    use cpchain_core::{Height, Term, Timestamp};

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_bytes(&[seed; 32]).unwrap()
    }

    struct Fx {
        spec: ChainSpec,
        keys: Vec<SecretKey>,
        proposers: Vec<SecretKey>,
        genesis: Header,
    }

    fn fixture() -> Fx {
        let spec = ChainSpec::devnet();
        let n = spec.validators() as usize;
        let keys: Vec<SecretKey> = (0..n).map(|i| key(0x30 + i as u8)).collect();
        let proposers: Vec<SecretKey> = (0..4).map(|i| key(0x60 + i)).collect();
        let genesis = Header::genesis(&spec, Timestamp(1_000_000));
        Fx {
            spec,
            keys,
            proposers,
            genesis,
        }
    }

    fn validate(fx: &Fx, signers: usize) -> Validate {
        let p = &fx.proposers[0]; // height 1 is slot 0
        let block = Block::propose(
            &fx.spec,
            &fx.genesis,
            p,
            p.public_key().address(),
            fx.genesis.timestamp + fx.spec.block_period,
            vec![vec![7; 20]],
        );
        let mut signatures: Vec<_> = fx.keys[..signers]
            .iter()
            .map(|k| {
                let v = Vote::sign(
                    k,
                    fx.spec.chain_id,
                    VoteKind::Commit,
                    Height(1),
                    0,
                    block.id(),
                );
                (v.voter, v.signature)
            })
            .collect();
        signatures.sort_by_key(|s| s.0);
        let certificate = Certificate {
            kind: VoteKind::Commit,
            height: Height(1),
            round: 0,
            block: block.id(),
            signatures,
        };
        Validate { block, certificate }
    }

    fn ffi_verify(
        fx: &Fx,
        spec: *const cpchain_chain_spec,
        parent: &[u8],
        msg: &[u8],
    ) -> (cpchain_result, usize) {
        let vals: Vec<u8> = fx
            .keys
            .iter()
            .flat_map(|k| k.public_key().to_compressed())
            .collect();
        let props: Vec<u8> = fx
            .proposers
            .iter()
            .flat_map(|k| k.public_key().address().0)
            .collect();
        let mut n = 0usize;
        let r = unsafe {
            cpchain_lbft_verify_validate(
                spec,
                vals.as_ptr(),
                fx.keys.len(),
                props.as_ptr(),
                fx.proposers.len(),
                0,
                parent.as_ptr(),
                parent.len(),
                msg.as_ptr(),
                msg.len(),
                &mut n,
            )
        };
        (r, n)
    }

    #[test]
    fn light_verification_agrees_with_rust() {
        let fx = fixture();
        let mut spec = ptr::null_mut();
        assert_eq!(
            unsafe { cpchain_chain_spec_devnet(&mut spec) },
            cpchain_result::Ok
        );
        let mut parent = [0u8; CPCHAIN_LBFT_HEADER_MAX_LEN];
        let mut plen = 0usize;
        let r = unsafe {
            cpchain_lbft_genesis_header(
                spec,
                1_000_000,
                parent.as_mut_ptr(),
                parent.len(),
                &mut plen,
            )
        };
        assert_eq!(r, cpchain_result::Ok);
        assert_eq!(
            &parent[..plen],
            &encoding::encode_to_vec(&fx.genesis).unwrap()[..]
        );

        let set =
            ValidatorSet::new(&fx.keys.iter().map(|k| k.public_key()).collect::<Vec<_>>()).unwrap();
        let schedule = FixedSchedule::new(
            fx.proposers
                .iter()
                .map(|k| k.public_key().address())
                .collect(),
        );
        let quorum = fx.spec.quorum() as usize;
        for signers in [quorum, quorum - 1, fx.keys.len()] {
            let v = validate(&fx, signers);
            let rust = verify_validate(
                &fx.spec,
                &set,
                ImpeachQuorum::TwoFPlusOne,
                &schedule,
                &v,
                &fx.genesis,
            );
            let want = rust.map_or_else(cpchain_result::from, |_| cpchain_result::Ok);
            for msg in [
                encoding::encode_to_vec(&v).unwrap(),
                encoding::encode_to_vec(&Message::Validate(v.clone())).unwrap(),
            ] {
                let (r, n) = ffi_verify(&fx, spec, &parent[..plen], &msg);
                assert_eq!(r, want, "{signers} signers");
                if let Ok(count) = rust {
                    assert_eq!(n, count);
                }
                // The next parent is the block's header.
                let mut next = [0u8; CPCHAIN_LBFT_HEADER_MAX_LEN];
                let mut nlen = 0usize;
                let r = unsafe {
                    cpchain_lbft_validate_header(
                        msg.as_ptr(),
                        msg.len(),
                        next.as_mut_ptr(),
                        next.len(),
                        &mut nlen,
                    )
                };
                assert_eq!(r, cpchain_result::Ok);
                assert_eq!(
                    &next[..nlen],
                    &encoding::encode_to_vec(&v.block.header).unwrap()[..]
                );
            }
        }
        assert_eq!(
            cpchain_result::from(cpchain_consensus::lbft::LightError::Certificate(
                cpchain_consensus::lbft::CertificateError::NoQuorum {
                    found: 1,
                    quorum: 3
                }
            )),
            cpchain_result::LbftCertNoQuorum
        );
        // Verified against the wrong parent (the block's own header), it is refused.
        let v = encoding::encode_to_vec(&validate(&fx, quorum)).unwrap();
        let own = encoding::encode_to_vec(&validate(&fx, quorum).block.header).unwrap();
        assert_ne!(ffi_verify(&fx, spec, &own, &v).0, cpchain_result::Ok);
        unsafe { cpchain_chain_spec_free(spec) };
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn rpt_and_election_agree_with_rust(
            raw in proptest::collection::vec((any::<u64>(), 0u64..50, 0u64..50, 0u64..12), 1..40),
            hash in any::<[u8; 32]>(),
            term in 1u64..1000,
        ) {
            let mut spec = ptr::null_mut();
            assert_eq!(unsafe { cpchain_chain_spec_mainnet(&mut spec) }, cpchain_result::Ok);
            let rust_spec = ChainSpec::mainnet();
            let obs: Vec<cpchain_rpt_observation> = raw.iter().enumerate().map(|(i, r)| {
                let mut address = [0u8; 20];
                address[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
                cpchain_rpt_observation {
                    address,
                    balance: u128::from(r.0).to_be_bytes(),
                    transactions: r.1,
                    proposed_blocks: r.2,
                    data_uploaded: r.1 ^ r.2,
                    data_bought: r.2 / 2,
                    proxy_assists: r.1 % 5,
                    impeached_blocks: r.3,
                }
            }).collect();
            let mut recs = vec![cpchain_rpt_record { address: [0; 20], balance: 0, transactions: 0, proxy: 0, data: 0, maintenance: 0, rpt: 0 }; obs.len()];
            let mut n = 0usize;
            let r = unsafe { cpchain_rpt_compute(spec, obs.as_ptr(), obs.len(), recs.as_mut_ptr(), recs.len(), &mut n) };
            prop_assert_eq!(r, cpchain_result::Ok);
            let rust_obs: Vec<Observation> = obs.iter().map(|o| Observation {
                address: Address(o.address),
                balance: u128::from_be_bytes(o.balance),
                transactions: o.transactions,
                proposed_blocks: o.proposed_blocks,
                data_uploaded: o.data_uploaded,
                data_bought: o.data_bought,
                proxy_assists: o.proxy_assists,
                impeached_blocks: o.impeached_blocks,
            }).collect();
            let want = compute_rpt(&rust_spec, &rust_obs).unwrap();
            for (c, w) in recs.iter().zip(&want) {
                prop_assert_eq!(c.address, w.address.0);
                prop_assert_eq!(c.rpt, w.rpt.0);
                prop_assert_eq!(
                    [c.balance, c.transactions, c.proxy, c.data, c.maintenance],
                    [w.scores.balance, w.scores.transactions, w.scores.proxy, w.scores.data, w.scores.maintenance]
                );
            }
            let cands: Vec<cpchain_candidate> = recs.iter().map(|r| cpchain_candidate { address: r.address, rpt: r.rpt }).collect();
            let defaults: Vec<[u8; 20]> = (0..rust_spec.proposers_per_term).map(|i| [0xd0 ^ i as u8; 20]).collect();
            let mut seats = vec![cpchain_seat { address: [0; 20], kind: cpchain_seat_kind::Low }; 64];
            let mut k = 0usize;
            let r = unsafe {
                cpchain_elect(spec, hash.as_ptr(), 32, term, cands.as_ptr(), cands.len(),
                    defaults.as_ptr().cast(), defaults.len(), seats.as_mut_ptr(), seats.len(), &mut k)
            };
            let rust_c: Vec<Candidate> = want.iter().map(|w| w.candidate()).collect();
            let rust_d: Vec<Address> = defaults.iter().map(|d| Address(*d)).collect();
            match elect(&rust_spec, &Hash(hash), Term(term), &rust_c, &rust_d) {
                Ok(committee) => {
                    prop_assert_eq!(r, cpchain_result::Ok);
                    prop_assert_eq!(k, committee.len());
                    for (s, w) in seats.iter().zip(committee.seats()) {
                        prop_assert_eq!(s.address, w.address.0);
                    }
                }
                Err(e) => prop_assert_eq!(r, cpchain_result::from(e)),
            }
            let _ = Rpt(0);
            unsafe { cpchain_chain_spec_free(spec) };
        }
    }
}
