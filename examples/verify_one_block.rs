//! Verify one block in the middle of a chain, without the blocks before it.
//!
//! 1. **A consensus block** (LBFT, white paper §2.4.2 Normal Case step 6: "users" accept a
//!    block on a quorum of COMMIT signatures). A light client holds the chain's public
//!    configuration (the [`ChainSpec`], the validator committee and the proposer schedule)
//!    and one trusted header, the parent (from a checkpoint, or the last block it verified).
//!    [`LightVerifier::verify`] then checks the VALIDATE of the next block alone: it extends
//!    the parent, its seal is the scheduled proposer's, and 2f + 1 *distinct* committee
//!    members signed COMMIT for it. Blocks 1 to k − 1 are never seen.
//! 2. **A data-chain block** (§2.2, an IoT device's encrypted stream). A reader holds the
//!    device's public key and the stream's schedule, and one on-chain anchor signed by the
//!    device. [`ChainVerifier::resume`] from the anchor's position checks the block right
//!    after it: device signature, link to the anchored head, index, interval and time.
//!
//! Here the chains are made in-process: the committee's COMMIT votes are signed with the
//! same calls validators make, so the certificate is the one a host receives in a VALIDATE
//! broadcast (or from a node's block API). Every step asserts what it prints, and
//! `tests/verify_one_block.rs` runs it under `cargo test`.
//!
//! Run: `cargo run --example verify_one_block`

use cpchain_consensus::lbft::{
    Block, CertificateError, FixedSchedule, Header, LightError, LightVerifier, ProposerSchedule,
    Validate, ValidatorSet, Vote, VoteKind,
};
use cpchain_consensus::lbft::{Certificate, ImpeachQuorum};
use cpchain_core::{ChainSpec, ChainSpecBuilder, Duration, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_examples::section;
use cpchain_storage::{
    Anchor, ChainVerifier, Checkpoint, MasterSecret, Schedule, StreamId, VecBlock, VerifyError,
    Writer, WriterOutput,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Blocks in the consensus chain; the light client checks the one at `MIDDLE`.
const BLOCKS: u64 = 10;
const MIDDLE: u64 = 6;

/// Both checks, each step asserted; also run by `cargo test` (`tests/verify_one_block.rs`).
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A seeded RNG: the SDK never reads OS randomness, so the run is reproducible.
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    consensus_block(&mut rng)?;
    data_chain_block(&mut rng)?;
    println!("\nverify_one_block: all checks passed");
    Ok(())
}

fn consensus_block(rng: &mut ChaCha20Rng) -> Result<(), Box<dyn std::error::Error>> {
    section("a consensus chain: 4 validators (f = 1), 4 proposers, 10 blocks");
    // A private chain from the devnet figures (ChainSpec::builder would start from mainnet).
    let spec: ChainSpec = ChainSpecBuilder::new(ChainSpec::devnet())
        .chain_id(9_001)
        .build()?;
    let validators: Vec<SecretKey> = (0..spec.validators())
        .map(|_| SecretKey::random(rng))
        .collect();
    let committee = ValidatorSet::new(
        &validators
            .iter()
            .map(SecretKey::public_key)
            .collect::<Vec<_>>(),
    )?;
    let proposers: Vec<SecretKey> = (0..4).map(|_| SecretKey::random(rng)).collect();
    let schedule = FixedSchedule::new(proposers.iter().map(|k| k.public_key().address()).collect());
    let genesis = Header::genesis(&spec, Timestamp(1_700_000_000_000));

    // What the network delivers: one VALIDATE (block + COMMIT certificate) per height.
    let mut chain: Vec<Validate> = Vec::new();
    let mut parent = genesis.clone();
    for h in 1..=BLOCKS {
        let height = Height(h);
        let proposer = schedule
            .proposer_of(height)
            .and_then(|a| proposers.iter().find(|k| k.public_key().address() == a))
            .ok_or("the schedule names one of our proposers")?;
        let block = Block::propose(
            &spec,
            &parent,
            proposer,
            proposer.public_key().address(),
            parent.timestamp + spec.block_period,
            vec![format!("tx at height {h}").into_bytes()],
        );
        // 2f + 1 = 3 of the 4 validators commit (validator h mod 4 is slow this height).
        let signers = validators
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 != h % 4)
            .map(|(_, k)| k);
        let certificate = commit_certificate(&spec, signers, height, &block);
        parent = block.header.clone();
        chain.push(Validate { block, certificate });
    }
    println!("built {} VALIDATE messages", chain.len());

    section("a light client checks block 6 with only block 5's header");
    let light = LightVerifier {
        spec: spec.clone(),
        validators: committee,
        impeach_quorum: ImpeachQuorum::TwoFPlusOne,
        schedule,
    };
    let index = usize::try_from(MIDDLE - 1)?;
    let target = chain.get(index).ok_or("block 6 exists")?;
    let trusted_parent = chain
        .get(index - 1)
        .map(|v| v.block.header.clone())
        .ok_or("block 5 exists")?;
    let checked = light.verify(target, &trusted_parent)?;
    println!(
        "block {} ({:?}) is final: {checked} signatures checked (3 COMMIT votes and the seal)",
        target.block.header.height.0,
        target.block.id()
    );
    assert_eq!(checked, 4);

    section("and refuses what it must");
    // The same VALIDATE on another parent: it does not extend what the client trusts.
    let grandparent = chain
        .get(index - 2)
        .map(|v| v.block.header.clone())
        .ok_or("block 4 exists")?;
    let wrong_parent = light.verify(target, &grandparent);
    println!("on block 4's header instead of block 5's: {wrong_parent:?}");
    assert!(wrong_parent.is_err());

    // A transaction changed after the committee signed.
    let mut tampered = target.clone();
    if let Some(tx) = tampered.block.transactions.first_mut() {
        tx.push(b'!');
    }
    let tampered_verdict = light.verify(&tampered, &trusted_parent);
    println!("with a transaction changed: {tampered_verdict:?}");
    assert!(tampered_verdict.is_err());

    // 2f signatures are not a quorum.
    let mut short = target.clone();
    short.certificate.signatures.truncate(2);
    let short_verdict = light.verify(&short, &trusted_parent);
    println!("with 2 of the 3 COMMIT signatures: {short_verdict:?}");
    assert_eq!(
        short_verdict,
        Err(LightError::Certificate(CertificateError::NoQuorum {
            found: 2,
            quorum: 3
        }))
    );

    // From there the client walks forward one VALIDATE at a time, never backward.
    let mut head = target.block.header.clone();
    for v in chain.iter().skip(index + 1) {
        light.verify(v, &head)?;
        head = v.block.header.clone();
    }
    println!(
        "then followed the chain forward to block {} alone",
        head.height.0
    );
    assert_eq!(head.height, Height(BLOCKS));
    Ok(())
}

/// A COMMIT certificate for `block` at round 0 from `signers`, as validators assemble it.
fn commit_certificate<'a>(
    spec: &ChainSpec,
    signers: impl Iterator<Item = &'a SecretKey>,
    height: Height,
    block: &Block,
) -> Certificate {
    let id = block.id();
    let mut signatures: Vec<_> = signers
        .map(|k| {
            let v = Vote::sign(k, spec.chain_id, VoteKind::Commit, height, 0, id);
            (v.voter, v.signature)
        })
        .collect();
    signatures.sort_by_key(|s| s.0);
    Certificate {
        kind: VoteKind::Commit,
        height,
        round: 0,
        block: id,
        signatures,
    }
}

fn data_chain_block(rng: &mut ChaCha20Rng) -> Result<(), Box<dyn std::error::Error>> {
    section("a data chain: one device, 40 readings, blocks every second, anchors every 2 s");
    const CAP: usize = 4096;
    let stream = StreamId([0x5d; 32]);
    let schedule = Schedule::new(
        Duration::from_millis(1_000),
        Duration::from_millis(4_000),
        Duration::from_millis(2_000),
    )?;
    let device = SecretKey::random(rng);
    let device_public = device.public_key();
    let master = MasterSecret::from_bytes([0x22; 32]);
    let mut writer = Writer::<CAP>::new(stream, schedule, device, master, rng);
    let mut blocks: Vec<VecBlock> = Vec::new();
    let mut anchors: Vec<Anchor> = Vec::new();
    let mut drain = |w: &mut Writer<CAP>| {
        while let Some(out) = w.poll_output() {
            match out {
                WriterOutput::Block(b) => blocks.push(b.to_vec_block()),
                WriterOutput::Anchor(a) => anchors.push(a),
            }
        }
    };
    for i in 0..40u64 {
        writer.append(Timestamp(i * 300), format!("reading {i}").as_bytes())?;
        drain(&mut writer);
    }
    while let Some(at) = writer.next_deadline() {
        if at.as_millis() > 60_000 {
            break;
        }
        writer.handle_timeout(at);
        drain(&mut writer);
    }
    println!("{} blocks, {} anchors", blocks.len(), anchors.len());

    section("a reader checks the block after an anchor, from the anchor alone");
    let fresh = ChainVerifier::new(stream, device_public, schedule);
    // An anchor in the middle with a block after it.
    let anchor = anchors
        .iter()
        .find(|a| a.last_index >= 2 && a.last_index + 1 < blocks.len() as u64)
        .ok_or("an anchor in the middle of the chain")?;
    fresh.check_anchor(anchor)?;
    let next = usize::try_from(anchor.last_index + 1)?;
    let block = blocks.get(next).ok_or("the block after the anchor")?;
    let from_anchor = Checkpoint {
        next_index: anchor.last_index + 1,
        head: anchor.head,
        // The anchor closes its upload boundary: no later block holds an earlier record.
        last_time: anchor.through,
    };
    let mut reader = ChainVerifier::resume(stream, device_public, schedule, from_anchor);
    let id = reader.verify_block(block)?;
    println!(
        "block {next} verified after the anchor of block {} (blocks 0..{} unseen): {:?}",
        anchor.last_index, anchor.last_index, id
    );
    assert_eq!(reader.next_index(), anchor.last_index + 2);

    // The block two after the anchor does not link to the anchored head.
    let mut reader = ChainVerifier::resume(stream, device_public, schedule, from_anchor);
    let skipped = blocks
        .get(next + 1)
        .ok_or("a second block after the anchor")?;
    let verdict = reader.verify_block(skipped);
    println!("the block after it, from the same anchor: {verdict:?}");
    assert_eq!(
        verdict,
        Err(VerifyError::MissingBlock {
            expected: anchor.last_index + 1,
            found: anchor.last_index + 2
        })
    );
    Ok(())
}
