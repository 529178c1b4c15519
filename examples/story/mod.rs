//! The end-to-end demo's flow, as a function the `demo` example prints and the integration
//! test checks: a gateway's interval-encrypted data chain, its anchors committed by a
//! 7-validator LBFT network (mainnet parameters, real k256 signatures, one silent proposer
//! impeached) in the deterministic simulator, one interval shared through 2-of-3 proxies and
//! checked against the chain by light verification, then RPT and the next committee.
//!
//! One module per act, each a function from what the earlier acts established to what it
//! adds, sharing the [`Cast`] (parameters, participants, the story's randomness):
//! [`gateway`] (the sensor's data chain, sharded and stored), [`network`] (LBFT and the
//! proposers in the simulator), [`buyer`] (one interval granted, read and checked against
//! the chain) and [`dpor`] (RPT and the next committee). The simulation itself runs before
//! the first act is told: the gateway is one of its nodes ([`nodes`]: the demo's network as
//! nodes of the simulator).

pub mod buyer;
pub mod dpor;
pub mod gateway;
pub mod network;
pub mod nodes;

use cpchain_core::{Address, ChainSpec, Duration, Timestamp};
use cpchain_crypto::{PublicKey, SecretKey};
use cpchain_storage::{MasterSecret, Schedule, StreamId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;

/// The demo's result type: every failure is reported, none panics.
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The seed of `cargo run --release --example demo`.
pub const DEFAULT_SEED: u64 = 2026;

/// Genesis (and the first reading): a whole minute, so encryption intervals start with it.
const GENESIS_MS: u64 = 1_700_000_040_000;
/// Readings: one a second for four encryption intervals.
const READINGS: u64 = 240;
/// Encryption intervals of the stream.
const INTERVALS: u64 = 4;
/// The committee slot (0-based) of the silent proposer.
const SILENT_SLOT: usize = 3;

/// The facts the story establishes (checked by the integration test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    /// Readings recorded, blocks sealed, anchors emitted by the gateway.
    pub readings: u64,
    /// Data-chain blocks sealed.
    pub blocks: usize,
    /// Anchors emitted.
    pub anchors: usize,
    /// Anchors found in committed, light-verified LBFT blocks.
    pub anchors_on_chain: usize,
    /// Heights committed by every validator.
    pub heights: u64,
    /// Heights whose committed block is an impeach block.
    pub impeached_heights: Vec<u64>,
    /// The silent proposer.
    pub silent_proposer: Address,
    /// Whether every impeach block names the silent proposer.
    pub impeach_blocks_name_silent: bool,
    /// Whether all validators committed the same chain.
    pub validators_agree: bool,
    /// Readings the buyer decrypted from the granted interval.
    pub granted_readings: usize,
    /// Whether the granted readings equal what the sensor produced in that interval.
    pub granted_readings_match: bool,
    /// Whether the grantee, a proxy and the data-chain reader all refused the other interval.
    pub other_interval_refused: bool,
    /// Whether the light client verified the chain from genesis and the VALIDATE carrying
    /// the buyer's anchor.
    pub light_verified: bool,
    /// RPT of the silent proposer, after the impeachment punishment.
    pub silent_rpt: u32,
    /// Whether the silent proposer's RPT shows the impeachment punishment.
    pub silent_punished: bool,
    /// The next committee, in slot order.
    pub committee: Vec<Address>,
    /// Distinct members of the committee.
    pub committee_distinct: usize,
}

/// What every act may know: the chain's parameters, the participants and their keys, the
/// names the output gives them, and the story's one random stream (drawn in a fixed order,
/// so a seed is a story).
pub struct Cast {
    /// Chain parameters (mainnet).
    pub spec: ChainSpec,
    /// The story's randomness.
    pub rng: ChaCha20Rng,
    /// Names for addresses.
    pub names: Names,
    /// Genesis, and the first reading.
    pub genesis_time: Timestamp,
    /// The gateway's device key.
    pub device: SecretKey,
    /// The data owner's key.
    pub owner_key: SecretKey,
    /// The owner's master secret (interval keys, delegating keys).
    pub master: MasterSecret,
    /// The owner's address.
    pub owner_addr: Address,
    /// The sensor's data stream.
    pub stream: StreamId,
    /// The data chain's schedule: T = 10 s blocks, e = 60 s keys, u = 30 s anchors.
    pub schedule: Schedule,
    /// The validators' keys (drawing order).
    pub validator_keys: Vec<SecretKey>,
    /// Their public keys, in committee (address) order.
    pub validator_publics: Vec<PublicKey>,
    /// The term's proposers' keys, in slot order.
    pub proposer_keys: Vec<SecretKey>,
    /// The term's proposers, in slot order.
    pub proposers: Vec<Address>,
    /// The proxies' keys.
    pub proxy_keys: Vec<SecretKey>,
    /// The proposer that never proposes.
    pub silent: Address,
}

impl Cast {
    /// Everyone, drawn from `seed`.
    fn new(seed: u64) -> Result<Cast> {
        let spec = ChainSpec::mainnet();
        spec.validate()?;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut names = Names::default();
        let device = SecretKey::random(&mut rng);
        let owner_key = SecretKey::random(&mut rng);
        let master = MasterSecret::random(&mut rng);
        let owner_addr = owner_key.public_key().address();
        names.add(owner_addr, "owner");
        let stream = StreamId::derive(&owner_addr, b"greenhouse-7/temperature");
        let validator_keys: Vec<SecretKey> = (0..spec.validators())
            .map(|_| SecretKey::random(&mut rng))
            .collect();
        let proposer_keys: Vec<SecretKey> = (0..spec.proposers_per_term)
            .map(|_| SecretKey::random(&mut rng))
            .collect();
        let proxy_keys: Vec<SecretKey> = (0..3).map(|_| SecretKey::random(&mut rng)).collect();
        let mut validator_publics: Vec<_> = validator_keys.iter().map(|k| k.public_key()).collect();
        validator_publics.sort_by_key(|k| k.address());
        for (i, k) in validator_publics.iter().enumerate() {
            names.add(k.address(), format!("V{}", i + 1));
        }
        let proposers: Vec<Address> = proposer_keys
            .iter()
            .map(|k| k.public_key().address())
            .collect();
        for (i, a) in proposers.iter().enumerate() {
            names.add(*a, format!("P{:02}", i + 1));
        }
        for (i, k) in proxy_keys.iter().enumerate() {
            let letter = ["A", "B", "C"].get(i).copied().unwrap_or("?");
            names.add(k.public_key().address(), format!("proxy {letter}"));
        }
        let silent = *proposers
            .get(SILENT_SLOT)
            .ok_or("no proposer in the silent slot")?;
        let schedule = Schedule::new(
            Duration::from_secs(10),
            Duration::from_secs(60),
            Duration::from_secs(30),
        )?;
        Ok(Cast {
            spec,
            rng,
            names,
            genesis_time: Timestamp(GENESIS_MS),
            device,
            owner_key,
            master,
            owner_addr,
            stream,
            schedule,
            validator_keys,
            validator_publics,
            proposer_keys,
            proposers,
            proxy_keys,
            silent,
        })
    }
}

/// Names for addresses, so the output reads as a story.
#[derive(Default)]
pub struct Names(BTreeMap<Address, String>);

impl Names {
    fn add(&mut self, a: Address, name: impl Into<String>) {
        self.0.insert(a, name.into());
    }
    fn of(&self, a: &Address) -> String {
        self.0.get(a).cloned().unwrap_or_else(|| short_addr(a))
    }
}

fn short_addr(a: &Address) -> String {
    let s = a.to_string();
    format!("{}…", s.get(..8).unwrap_or(&s))
}

fn short_hex(bytes: &[u8]) -> String {
    let h: String = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("0x{h}…")
}

fn secs(from: Timestamp, t: Timestamp) -> String {
    let ms = t.as_millis().saturating_sub(from.as_millis());
    if ms.is_multiple_of(1000) {
        format!("+{}s", ms / 1000)
    } else {
        format!("+{:.1}s", ms as f64 / 1000.0)
    }
}

/// Run the story with `seed`, writing its account to `out`.
pub fn run(seed: u64, out: &mut dyn Write) -> Result<Story> {
    if cpchain_crypto::INSECURE_TEST_CRYPTO {
        return Err(
            "the demo needs real k256 signatures: build without insecure-test-crypto".into(),
        );
    }
    let mut cast = Cast::new(seed)?;
    writeln!(
        out,
        "CPChain SDK demo: seed {seed}, chain id {} (mainnet parameters), k256 ECDSA signatures",
        cast.spec.chain_id
    )?;

    let writer = gateway::writer(&mut cast);
    let run = network::simulate(&cast, seed, writer)?;
    let stored = gateway::store(&mut cast, &run, out)?;
    let consensus = network::report(&cast, &run, out)?;
    let bought = buyer::buy(&mut cast, &run, &consensus, stored, out)?;
    let elected = dpor::elect(&cast, &run, &consensus, &bought, out)?;

    let story = Story {
        readings: READINGS,
        blocks: run.blocks.len(),
        anchors: run.anchors.len(),
        anchors_on_chain: bought.anchors_on_chain,
        heights: run.chain.len() as u64,
        impeached_heights: consensus.impeached_heights,
        silent_proposer: cast.silent,
        impeach_blocks_name_silent: consensus.impeach_blocks_name_silent,
        validators_agree: run.validators_agree,
        granted_readings: bought.granted_readings,
        granted_readings_match: bought.granted_readings_match,
        other_interval_refused: bought.other_interval_refused,
        light_verified: bought.light_verified,
        silent_rpt: elected.silent_rpt,
        silent_punished: elected.silent_punished,
        committee: elected.committee,
        committee_distinct: elected.distinct,
    };
    writeln!(
        out,
        "\nSummary: {} readings, {} encrypted blocks, {} anchors in {} LBFT blocks ({} impeached); 1 of {INTERVALS} intervals opened via 2-of-3 proxies and light-verified; term-{} committee of {} elected.",
        story.readings,
        story.blocks,
        story.anchors_on_chain,
        story.heights,
        story.impeached_heights.len(),
        elected.term,
        story.committee_distinct
    )?;
    Ok(story)
}

fn section(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(out, "\n{title}")
}
