//! The host side of the firmware images (issue 16): what a device wrote under QEMU is
//! decoded here, replayed through the Rust `Writer` from the same inputs (the outputs must
//! be byte-identical), and verified with the Rust reader against the device's anchors.
//!
//! The images (`examples/c-firmware`, the Cortex-M4F and Cortex-M33 builds, and the Rust
//! `examples/firmware-footprint`) write `cpchain-firmware.bin` over semihosting; `.ci/run`
//! runs them and hands the files here in `CPCHAIN_FIRMWARE_OUTPUTS` (paths separated by
//! `:`). That test is `#[ignore]`d in a plain `cargo test` (which has no images to read, and
//! says so as "ignored"); the firmware block runs it with `--include-ignored`, and it fails
//! when the variable is unset, names no file, or a file is missing.
//!
//! The light-verification fixture the images are given (`examples/c-firmware/
//! validate_fixture.h`, also read by the Rust image) is generated here; the test fails when
//! the committed file differs (`CPCHAIN_WRITE_FIXTURE=1` rewrites it).

use cpchain_consensus::lbft::{
    verify_validate, Block, Certificate, FixedSchedule, Header, ImpeachQuorum, Validate,
    ValidatorSet, Vote, VoteKind,
};
use cpchain_core::encoding::{self, encode_to_slice};
use cpchain_core::{ChainSpec, Duration, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_storage::{
    read_chain, Anchor, ChainVerifier, Checkpoint, MasterSecret, Output, Schedule, SessionSalt,
    StreamId, VecBlock, Writer,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const KEY_SEED: u8 = 1;
const APPEND: u8 = 2;
const TIMEOUT: u8 = 3;
const FLUSH: u8 = 4;
const BLOCK: u8 = 5;
const ANCHOR: u8 = 6;
const LIGHT: u8 = 7;
const DEVICE: u8 = 8;
const END: u8 = 9;
const WRITER: u8 = 10;

/// Block body capacity of the firmware writers (the C API's `CPCHAIN_CHAIN_BLOCK_CAP`).
const BLOCK_CAP: usize = 4096;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn records(bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "truncated record header");
        let kind = rest[0];
        let len = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
        assert!(rest.len() >= 5 + len, "truncated record of kind {kind}");
        out.push((kind, &rest[5..5 + len]));
        rest = &rest[5 + len..];
    }
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Everything one device run proved, for the caller's assertions.
struct Checked {
    light_verified: bool,
    blocks: usize,
    anchors: usize,
    intervals: usize,
}

/// Decode one device output, replay it through the Rust writer, verify it; panics with the
/// reason on any mismatch.
fn check_output(bytes: &[u8]) -> Checked {
    let recs = records(bytes);
    let find = |k: u8| {
        recs.iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, b)| *b)
            .unwrap_or_else(|| panic!("no record of kind {k}"))
    };
    let seed: [u8; 32] = find(KEY_SEED).try_into().expect("key seed is 32 bytes");
    let device = SecretKey::random(&mut ChaCha20Rng::from_seed(seed));
    assert_eq!(
        find(DEVICE),
        &device.public_key().address().0[..],
        "the device derived another key from its seed than Rust does"
    );
    let w = find(WRITER);
    assert_eq!(w.len(), 120);
    let session: [u8; 32] = w[88..120].try_into().unwrap();
    let master: [u8; 32] = w[..32].try_into().unwrap();
    let stream = StreamId(w[32..64].try_into().unwrap());
    let schedule = Schedule::new(
        Duration::from_millis(u64_at(w, 64)),
        Duration::from_millis(u64_at(w, 72)),
        Duration::from_millis(u64_at(w, 80)),
    )
    .expect("the device's schedule");

    // Replay every writer call the device made, collecting the outputs in order.
    let salt = SessionSalt::from_entropy(&device.public_key().address(), &session);
    let mut writer: Writer<BLOCK_CAP> = Writer::with_salt(
        stream,
        schedule,
        device.clone(),
        MasterSecret::from_bytes(master),
        Checkpoint::GENESIS,
        salt,
    );
    let mut want: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut appended: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut tx = vec![0u8; 8192];
    let drain = |writer: &mut Writer<BLOCK_CAP>, want: &mut Vec<(u8, Vec<u8>)>, tx: &mut [u8]| {
        while let Some(out) = writer.poll_output() {
            match out {
                Output::Block(b) => want.push((BLOCK, b.encode_to_slice(tx).unwrap().to_vec())),
                Output::Anchor(a) => want.push((ANCHOR, encode_to_slice(&a, tx).unwrap().to_vec())),
            }
        }
    };
    for (kind, body) in &recs {
        match *kind {
            APPEND => {
                let now = u64_at(body, 0);
                writer.append(Timestamp(now), &body[8..]).expect("append");
                appended.push((now, body[8..].to_vec()));
                drain(&mut writer, &mut want, &mut tx);
            }
            TIMEOUT => {
                writer.handle_timeout(Timestamp(u64_at(body, 0)));
                drain(&mut writer, &mut want, &mut tx);
            }
            FLUSH => {
                writer.flush(writer.checkpoint().last_time);
                drain(&mut writer, &mut want, &mut tx);
            }
            _ => {}
        }
    }
    let got: Vec<(u8, Vec<u8>)> = recs
        .iter()
        .filter(|(k, _)| *k == BLOCK || *k == ANCHOR)
        .map(|(k, b)| (*k, b.to_vec()))
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "output count differs from the Rust writer"
    );
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "output {i} differs from the Rust writer's");
    }

    // Verify every block with the reader against the anchors, and read the records back.
    let blocks: Vec<VecBlock> = got
        .iter()
        .filter(|(k, _)| *k == BLOCK)
        .map(|(_, b)| encoding::decode(b).expect("a block decodes"))
        .collect();
    let anchors: Vec<Anchor> = got
        .iter()
        .filter(|(k, _)| *k == ANCHOR)
        .map(|(_, b)| encoding::decode(b).expect("an anchor decodes"))
        .collect();
    assert!(!anchors.is_empty(), "no anchor");
    let mut read: Vec<(u64, Vec<u8>)> = Vec::new();
    let summary = read_chain(
        ChainVerifier::new(stream, device.public_key(), schedule),
        &anchors,
        &blocks,
        &MasterSecret::from_bytes(master),
        |_, r| read.push((r.time.as_millis(), r.data.to_vec())),
    )
    .expect("the device's chain verifies");
    assert_eq!(summary.checkpoint.next_index, blocks.len() as u64);
    assert_eq!(summary.keyed_blocks, blocks.len() as u64);
    let last_anchored = anchors.iter().map(|a| a.last_index).max().unwrap();
    assert_eq!(summary.anchored, Some(last_anchored));
    assert_eq!(
        read, appended,
        "the chain's records are not the ones appended"
    );
    let mut intervals: Vec<u64> = blocks.iter().map(|b| b.header.interval).collect();
    intervals.dedup();

    // Light verification on the device (full images; a gateway image has no heap and does
    // not verify): the fixture accepted with every signature counted, the tampered copy
    // refused.
    let light = recs.iter().find(|(k, _)| *k == LIGHT).map(|(_, b)| *b);
    if let Some(light) = light {
        assert_eq!(u32_at(light, 0), 0, "the device refused the VALIDATE");
        assert_eq!(
            u32_at(light, 4),
            8,
            "signatures checked on the device (7 commits, 1 seal)"
        );
        assert_ne!(
            u32_at(light, 8),
            0,
            "the device accepted a tampered VALIDATE"
        );
    }
    assert_eq!(u32_at(find(END), 0), 0, "the device's status");
    Checked {
        light_verified: light.is_some(),
        blocks: blocks.len(),
        anchors: anchors.len(),
        intervals: intervals.len(),
    }
}

#[test]
#[ignore = "needs what the firmware images wrote under QEMU: .ci/run's firmware block runs it"]
fn firmware_outputs_verify_against_the_rust_writer() {
    let list = std::env::var("CPCHAIN_FIRMWARE_OUTPUTS").expect(
        "CPCHAIN_FIRMWARE_OUTPUTS must name the images' cpchain-firmware.bin files (run .ci/run's firmware block)",
    );
    let paths: Vec<&str> = list.split(':').filter(|p| !p.is_empty()).collect();
    assert!(!paths.is_empty(), "CPCHAIN_FIRMWARE_OUTPUTS names no file");
    let mut light_verified = 0;
    for p in paths {
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let c = check_output(&bytes);
        assert!(
            c.intervals >= 3,
            "{p}: {} encryption intervals",
            c.intervals
        );
        light_verified += usize::from(c.light_verified);
        eprintln!(
            "{p}: {} blocks over {} encryption intervals and {} anchors, byte-identical to the Rust writer and verified",
            c.blocks, c.anchors, c.intervals
        );
    }
    assert!(light_verified > 0, "no image light-verified the VALIDATE");
}

// ---- The light-verification fixture. ----

const GENESIS_MS: u64 = 1_000_000;

fn key(seed: u8) -> SecretKey {
    SecretKey::from_bytes(&[seed; 32]).unwrap()
}

struct Fixture {
    spec: ChainSpec,
    validators: Vec<SecretKey>,
    proposers: Vec<SecretKey>,
    genesis: Header,
    validate: Validate,
}

/// A VALIDATE for height 1 on mainnet parameters (n = 7), committed by all seven.
fn fixture() -> Fixture {
    let spec = ChainSpec::mainnet();
    assert_eq!(spec.validators(), 7);
    let validators: Vec<SecretKey> = (0..7).map(|i| key(0x30 + i)).collect();
    let proposers: Vec<SecretKey> = (0..4).map(|i| key(0x60 + i)).collect();
    let genesis = Header::genesis(&spec, Timestamp(GENESIS_MS));
    let p = &proposers[0];
    let block = Block::propose(
        &spec,
        &genesis,
        p,
        p.public_key().address(),
        genesis.timestamp + spec.block_period,
        vec![b"cpchain firmware fixture".to_vec()],
    );
    let mut signatures: Vec<_> = validators
        .iter()
        .map(|k| {
            let v = Vote::sign(k, spec.chain_id, VoteKind::Commit, Height(1), 0, block.id());
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
    Fixture {
        spec,
        validators,
        proposers,
        genesis,
        validate: Validate { block, certificate },
    }
}

fn c_array(out: &mut String, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if i % 16 == 0 {
            out.push_str("\n    ");
        }
        write!(out, "0x{b:02x},").unwrap();
    }
}

/// The fixture as C, and the byte of the encoded VALIDATE that the device flips (inside the
/// `s` half of the last commit signature, so the message still decodes).
fn fixture_header(fx: &Fixture) -> (String, Vec<u8>, usize) {
    let bytes = encoding::encode_to_vec(&fx.validate).unwrap();
    let last = fx
        .validate
        .certificate
        .signatures
        .last()
        .unwrap()
        .1
        .to_bytes();
    let at = bytes
        .windows(last.len())
        .rposition(|w| w == &last[..])
        .expect("the last signature is in the encoding");
    let tamper = at + 40;
    let mut s = String::new();
    s.push_str("/* SPDX-License-Identifier: MIT OR Apache-2.0 */\n");
    s.push_str("/* Generated by examples/tests/firmware.rs; do not edit. Regenerate with\n");
    s.push_str(" *   CPCHAIN_WRITE_FIXTURE=1 cargo test -p cpchain-examples --test firmware\n");
    s.push_str(" * A VALIDATE of height 1 on mainnet parameters (n = 7 validators, all seven\n");
    s.push_str(
        " * commit signatures), its committee and proposer rotation, and the genesis time\n",
    );
    s.push_str(" * the device derives its parent header from. */\n");
    s.push_str("#ifndef CPCHAIN_VALIDATE_FIXTURE_H\n#define CPCHAIN_VALIDATE_FIXTURE_H\n");
    s.push_str("#include <stdint.h>\n");
    writeln!(s, "#define FIXTURE_GENESIS_MS {GENESIS_MS}ull").unwrap();
    writeln!(s, "#define FIXTURE_N_VALIDATORS {}u", fx.validators.len()).unwrap();
    writeln!(s, "#define FIXTURE_N_PROPOSERS {}u", fx.proposers.len()).unwrap();
    writeln!(s, "#define FIXTURE_TAMPER_AT {tamper}u").unwrap();
    s.push_str("static const uint8_t FIXTURE_VALIDATORS[FIXTURE_N_VALIDATORS][33] = {");
    for k in &fx.validators {
        s.push_str("\n  {");
        c_array(&mut s, &k.public_key().to_compressed());
        s.push_str("\n  },");
    }
    s.push_str("\n};\nstatic const uint8_t FIXTURE_PROPOSERS[FIXTURE_N_PROPOSERS][20] = {");
    for k in &fx.proposers {
        s.push_str("\n  {");
        c_array(&mut s, &k.public_key().address().0);
        s.push_str("\n  },");
    }
    s.push_str("\n};\nstatic const uint8_t FIXTURE_VALIDATE[] = {");
    c_array(&mut s, &bytes);
    s.push_str("\n};\n#endif\n");
    (s, bytes, tamper)
}

#[test]
fn firmware_validate_fixture_is_current_and_verifies() {
    let fx = fixture();
    let (text, bytes, tamper) = fixture_header(&fx);
    let set = ValidatorSet::new(
        &fx.validators
            .iter()
            .map(|k| k.public_key())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let schedule = FixedSchedule::new(
        fx.proposers
            .iter()
            .map(|k| k.public_key().address())
            .collect(),
    );
    let verdict = verify_validate(
        &fx.spec,
        &set,
        ImpeachQuorum::TwoFPlusOne,
        &schedule,
        &fx.validate,
        &fx.genesis,
    );
    // Seven commit signatures and the proposer's seal.
    assert_eq!(verdict.expect("the fixture verifies"), 8);
    // The byte the device flips makes the message fail in Rust too.
    let mut bad = bytes.clone();
    bad[tamper] ^= 1;
    let refused = match encoding::decode::<Validate>(&bad) {
        Ok(v) => verify_validate(
            &fx.spec,
            &set,
            ImpeachQuorum::TwoFPlusOne,
            &schedule,
            &v,
            &fx.genesis,
        )
        .is_err(),
        Err(_) => true,
    };
    assert!(refused, "the tampered fixture still verifies");

    let path = repo().join("examples/c-firmware/validate_fixture.h");
    if std::env::var("CPCHAIN_WRITE_FIXTURE").as_deref() == Ok("1") {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is out of date: rerun with CPCHAIN_WRITE_FIXTURE=1",
        path.display()
    );
}

// ---- The host check refuses what it must. ----

/// A device output made on the host the way the images make theirs (same record format,
/// same clock play), so that the checker can be shown to refuse tampered output.
fn synthetic_output() -> Vec<u8> {
    fn rec(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
        out.push(kind);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    let seed = [0x5au8; 32];
    let master = [0x22u8; 32];
    let stream = [0x33u8; 32];
    let (period, interval, upload) = (5_000u64, 20_000u64, 10_000u64);
    let session = [0x44u8; 32];
    let device = SecretKey::random(&mut ChaCha20Rng::from_seed(seed));
    let mut out = Vec::new();
    rec(&mut out, KEY_SEED, &seed);
    rec(&mut out, DEVICE, &device.public_key().address().0);
    let mut w = Vec::new();
    w.extend_from_slice(&master);
    w.extend_from_slice(&stream);
    for v in [period, interval, upload] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    w.extend_from_slice(&session);
    rec(&mut out, WRITER, &w);
    let schedule = Schedule::new(
        Duration::from_millis(period),
        Duration::from_millis(interval),
        Duration::from_millis(upload),
    )
    .unwrap();
    let salt = SessionSalt::from_entropy(&device.public_key().address(), &session);
    let mut writer: Writer<BLOCK_CAP> = Writer::with_salt(
        StreamId(stream),
        schedule,
        device,
        MasterSecret::from_bytes(master),
        Checkpoint::GENESIS,
        salt,
    );
    let mut tx = vec![0u8; 8192];
    let drain = |writer: &mut Writer<BLOCK_CAP>, out: &mut Vec<u8>, tx: &mut [u8]| {
        while let Some(o) = writer.poll_output() {
            match o {
                Output::Block(b) => rec(out, BLOCK, b.encode_to_slice(tx).unwrap()),
                Output::Anchor(a) => rec(out, ANCHOR, encode_to_slice(&a, tx).unwrap()),
            }
        }
    };
    for i in 0..70u64 {
        let now = 1_700_000_000_000 + i * 1000 + 137;
        while let Some(d) = writer.next_deadline().filter(|d| d.as_millis() <= now) {
            rec(&mut out, TIMEOUT, &d.as_millis().to_le_bytes());
            writer.handle_timeout(d);
            drain(&mut writer, &mut out, &mut tx);
        }
        let reading = [i as u8; 24];
        let mut body = now.to_le_bytes().to_vec();
        body.extend_from_slice(&reading);
        rec(&mut out, APPEND, &body);
        writer.append(Timestamp(now), &reading).unwrap();
        drain(&mut writer, &mut out, &mut tx);
    }
    rec(&mut out, FLUSH, &[]);
    writer.flush(writer.checkpoint().last_time);
    drain(&mut writer, &mut out, &mut tx);
    rec(&mut out, END, &0u32.to_le_bytes());
    out
}

#[test]
fn the_firmware_check_refuses_a_changed_block_or_record() {
    let good = synthetic_output();
    let c = check_output(&good);
    assert!(c.blocks > 0 && c.anchors > 0 && !c.light_verified);
    // The offset of the first byte of the n-th record of `kind`'s body.
    let body_of = |kind: u8, n: usize| {
        let mut at = 0;
        let mut seen = 0;
        loop {
            let len = u32::from_le_bytes(good[at + 1..at + 5].try_into().unwrap()) as usize;
            if good[at] == kind {
                if seen == n {
                    return (at + 5, len);
                }
                seen += 1;
            }
            at += 5 + len;
        }
    };
    let refused = |bytes: Vec<u8>| {
        std::panic::catch_unwind(move || {
            check_output(&bytes);
        })
        .is_err()
    };
    // A flipped byte in the middle of the second block's body (the device sent something
    // the Rust writer would not have), in an appended reading (the device claims another
    // input than it sealed), and a failing status.
    let (at, len) = body_of(BLOCK, 1);
    let mut bad = good.clone();
    bad[at + len / 2] ^= 1;
    assert!(refused(bad), "a changed block passed");
    let (at, _) = body_of(APPEND, 3);
    let mut bad = good.clone();
    bad[at + 10] ^= 1;
    assert!(refused(bad), "a changed reading passed");
    let (at, _) = body_of(END, 0);
    let mut bad = good.clone();
    bad[at] = 6;
    assert!(refused(bad), "a failing status passed");
}
