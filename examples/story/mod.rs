//! The end-to-end demo's flow, as a function the `demo` example prints and the integration
//! test checks: a gateway's interval-encrypted data chain, its anchors committed by a
//! 7-validator LBFT network (mainnet parameters, real k256 signatures, one silent proposer
//! impeached) in the deterministic simulator, one interval shared through 2-of-3 proxies and
//! checked against the chain by light verification, then RPT and the next committee.

pub mod network;

use cpchain_consensus::dpor::{self, Observation, SeatKind, DEFAULT_SCHEDULE_CAPACITY};
use cpchain_consensus::lbft::{self, Header, ImpeachQuorum, LightVerifier, Validate, ValidatorSet};
use cpchain_consensus::sim::{FaultPlan, SimRng, Simulator, StopReason, Topology};
use cpchain_core::{encoding, Address, ChainSpec, Duration, Height, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_storage::sharing::{
    self, GrantRequest, Grantee, GranteeConfig, GranteeOutput, Owner, OwnerConfig, OwnerOutput,
    Proxy, ProxyConfig, ProxyOutput, ReencryptionRequest,
};
use cpchain_storage::{
    open_block, place_shards, read_chain, reassemble, shard_block, Anchor, BlockId, ChainVerifier,
    Checkpoint, IntervalKey, KadKey, KeyIndexRecord, MasterSecret, Schedule, Shard, ShardParams,
    StreamId, VecBlock, Writer,
};
use network::{GatewayNode, Net, Node, ProposerNode, ValidatorNode};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::io::Write;
use std::rc::Rc;

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
/// The interval the buyer is granted (relative to the first), and one it is not.
const GRANTED: u64 = 2;
const CLOSED: u64 = 3;
/// The committee slot (0-based) of the silent proposer.
const SILENT_SLOT: usize = 3;
/// DHT storage nodes, and how many of them are offline when the buyer reads.
const STORAGE_NODES: usize = 8;
const STORAGE_OFFLINE: usize = 2;

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

/// Names for addresses, so the output reads as a story.
#[derive(Default)]
struct Names(BTreeMap<Address, String>);

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
    let spec = ChainSpec::mainnet();
    spec.validate()?;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let genesis_time = Timestamp(GENESIS_MS);
    let mut names = Names::default();

    writeln!(
        out,
        "CPChain SDK demo: seed {seed}, chain id {} (mainnet parameters), k256 ECDSA signatures",
        spec.chain_id
    )?;

    // ---------------------------------------------------------------- identities
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

    // ---------------------------------------------------------------- 1. gateway
    let schedule = Schedule::new(
        Duration::from_secs(10),
        Duration::from_secs(60),
        Duration::from_secs(30),
    )?;
    let writer: Writer<{ network::BLOCK_CAP }> =
        Writer::new(stream, schedule, device.clone(), master.clone(), &mut rng);

    // ---------------------------------------------------------------- 2. network set-up
    let validators = ValidatorSet::new(&validator_publics)?;
    // Every validator and the light verifier hold their own copy of the schedule: no
    // election happens during the run (the one at the checkpoint is shown afterwards).
    let dpor_schedule = dpor::Schedule::new(&spec, &proposers, DEFAULT_SCHEDULE_CAPACITY)?;
    let light = LightVerifier {
        spec: spec.clone(),
        validators: validators.clone(),
        impeach_quorum: ImpeachQuorum::default(),
        schedule: dpor_schedule.clone(),
    };
    let genesis = Header::genesis(&spec, genesis_time);
    // Node ids: validators (committee order), proposers (slot order), the gateway.
    let mut addresses: Vec<Address> = validators.addresses().collect();
    let n_validators = addresses.len();
    addresses.extend(proposers.iter().copied());
    let gateway_id = addresses.len();
    addresses.push(device.public_key().address());
    let net = Rc::new(Net {
        spec: spec.clone(),
        addresses,
        validators: (0..n_validators).collect(),
        proposers: (n_validators..gateway_id).collect(),
        light: light.clone(),
    });
    let mut nodes: Vec<Node> = Vec::new();
    let mut sorted_keys: Vec<&SecretKey> = validator_keys.iter().collect();
    sorted_keys.sort_by_key(|k| k.public_key().address());
    for (id, key) in sorted_keys.into_iter().enumerate() {
        let cfg = lbft::Config::new(spec.clone(), validators.clone(), key.clone());
        let engine =
            lbft::Validator::new(cfg, dpor_schedule.clone(), genesis.clone(), genesis_time)?;
        nodes.push(Node::Validator(ValidatorNode::new(net.clone(), id, engine)));
    }
    for key in &proposer_keys {
        let is_silent = key.public_key().address() == silent;
        nodes.push(Node::Proposer(ProposerNode::new(
            net.clone(),
            key.clone(),
            genesis.clone(),
            is_silent,
        )));
    }
    nodes.push(Node::Gateway(GatewayNode::new(
        net.clone(),
        writer,
        genesis_time,
        Duration::from_secs(1),
        READINGS,
    )));
    let mut topo_rng = SimRng::seed_from_u64(seed);
    let topology = Topology::random(nodes.len(), 20, 120, &mut topo_rng);
    let term_end = dpor_schedule.clock().term_blocks();
    // n validators check the same signatures: verify each once while simulating.
    cpchain_crypto::verify_cache::enable(1 << 16);
    let mut sim = Simulator::new(
        seed,
        genesis_time,
        nodes,
        topology,
        FaultPlan::none(),
        Box::new(|_, _| Node::Down),
    )
    .with_event_budget(5_000_000);
    let done = |s: &Simulator<Node>| {
        (0..n_validators).all(|i| match s.node(i) {
            Some(Node::Validator(v)) => v.chain.len() as u64 >= term_end,
            _ => false,
        })
    };
    let deadline = genesis_time.saturating_add(Duration::from_mins(30));
    let stop = sim.run_until(deadline, done);
    cpchain_crypto::verify_cache::disable();
    if stop != StopReason::Condition {
        return Err(format!("the network did not reach height {term_end}: {stop:?}").into());
    }

    let Some(Node::Gateway(gateway)) = sim.node(gateway_id) else {
        return Err("gateway missing".into());
    };
    if let Some(e) = gateway.errors.first() {
        return Err(format!("gateway: {e}").into());
    }
    let chains: Vec<&Vec<Validate>> = (0..n_validators)
        .filter_map(|i| match sim.node(i) {
            Some(Node::Validator(v)) => Some(&v.chain),
            _ => None,
        })
        .collect();
    let chain: Vec<Validate> = chains
        .first()
        .map(|c| c.iter().take(term_end as usize).cloned().collect())
        .ok_or("no validator")?;
    let validators_agree = chains.len() == n_validators
        && chains.iter().all(|c| {
            c.iter()
                .zip(&chain)
                .all(|(a, b)| a.block.id() == b.block.id())
        });
    let faults: Vec<&'static str> = sim
        .observations()
        .iter()
        .filter_map(|o| match o.event {
            network::Event::Fault(f) => Some(f),
            _ => None,
        })
        .collect();

    // ---------------------------------------------------------------- print 1
    section(
        out,
        "1. Gateway: a sensor stream becomes an interval-encrypted data chain",
    )?;
    let first_interval = schedule.interval_of(genesis_time);
    writeln!(
        out,
        "   device {} records for owner {}; T = 10 s blocks, e = 60 s keys, u = 30 s anchors",
        short_addr(&device.public_key().address()),
        short_addr(&owner_addr)
    )?;
    writeln!(
        out,
        "   {READINGS} readings (1 Hz) over {INTERVALS} encryption intervals -> {} sealed blocks, {} signed anchors",
        gateway.blocks.len(),
        gateway.anchors.len()
    )?;

    // The host shards every block, places the shards and writes its key-index record with
    // the interval key wrapped for proxy re-encryption.
    let mut owner = Owner::new(
        owner_key.clone(),
        master.clone(),
        stream,
        OwnerConfig {
            chain_id: spec.chain_id,
            ..OwnerConfig::default()
        },
    )?;
    let params = ShardParams::new(4, 2)?;
    let storage_nodes: Vec<KadKey> = (0..STORAGE_NODES)
        .map(|i| KadKey::from_preimage(format!("storage-node-{i}").as_bytes()))
        .collect();
    let mut dht: BTreeMap<KadKey, Vec<Shard>> = BTreeMap::new();
    let mut index: BTreeMap<BlockId, KeyIndexRecord> = BTreeMap::new();
    let mut example_line = String::new();
    for block in &gateway.blocks {
        let (mut record, shards) = shard_block(block, params)?;
        let interval = block.header.interval;
        owner.attach_capsule(&mut rng, &mut record)?;
        let capsule_len = record.capsule.as_ref().map_or(0, |c| c.len());
        let placement = place_shards(&record.shards, &storage_nodes, 1)?;
        for (shard, place) in shards.into_iter().zip(&placement) {
            for node in &place.nodes {
                dht.entry(*node).or_default().push(shard.clone());
            }
        }
        if example_line.is_empty() && interval == first_interval + GRANTED {
            let record_len = encoding::encode_to_vec(&record)?.len();
            let sealed_len = encoding::encode_to_vec(block)?.len();
            example_line = format!(
                "   e.g. block #{} ({} readings, {sealed_len} B sealed) -> {} data + {} parity shards of {} B on {} of {STORAGE_NODES} DHT nodes;\n   its key-index record ({record_len} B) carries the interval key in a {capsule_len} B Umbral capsule",
                block.header.index,
                block.header.record_count,
                params.data,
                params.parity,
                cpchain_storage::shard::shard_len(sealed_len, params.data),
                placement.len(),
            );
        }
        index.insert(record.block, record);
    }
    writeln!(out, "{example_line}")?;

    // ---------------------------------------------------------------- print 2
    section(
        out,
        "2. LBFT: 7 validators commit the anchors; a silent proposer is impeached",
    )?;
    writeln!(
        out,
        "   {} validators (f = {}, quorum {}), {} proposers in term 0, period {} s, impeach timeout {} s",
        validators.len(),
        validators.f(),
        validators.quorum(),
        proposers.len(),
        spec.block_period.as_millis() / 1000,
        spec.impeach_timeout.as_millis() / 1000
    )?;
    writeln!(
        out,
        "   proposer {} ({}) is silent; it owns slot {} of every 12",
        names.of(&silent),
        short_addr(&silent),
        SILENT_SLOT + 1
    )?;
    let stats = sim.stats();
    let last_time = chain
        .last()
        .map(|v| v.block.header.timestamp)
        .unwrap_or(genesis_time);
    writeln!(
        out,
        "   simulated network (seeded, 20-120 ms links): {} heights over {} of chain time, {} messages delivered",
        chain.len(),
        secs(genesis_time, last_time),
        stats.delivered
    )?;
    let mut impeached_heights = Vec::new();
    let mut impeach_blocks_name_silent = true;
    for v in &chain {
        let h = &v.block.header;
        if v.block.is_impeach() {
            impeached_heights.push(h.height.0);
            impeach_blocks_name_silent &= h.proposer == silent;
            if impeached_heights.len() == 1 {
                writeln!(
                    out,
                    "   h{}: no proposal by {} (parent + period + impeach timeout), so the validators commit\n   the IMPEACH block {}: proposer {}, zero coinbase, empty body, {} IMPEACH COMMIT signatures",
                    h.height.0,
                    secs(genesis_time, h.timestamp),
                    short_hex(v.block.id().as_bytes()),
                    names.of(&h.proposer),
                    v.certificate.signatures.len()
                )?;
            }
        }
    }
    writeln!(
        out,
        "   impeach blocks at heights {:?} (every slot of {}); {} normal blocks; faults reported: {}",
        impeached_heights,
        names.of(&silent),
        chain.len() - impeached_heights.len(),
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    )?;
    let mut anchor_places: Vec<(u64, usize, Anchor)> = Vec::new();
    for v in &chain {
        for (i, tx) in v.block.transactions.iter().enumerate() {
            let a: Anchor = encoding::decode(tx)?;
            anchor_places.push((v.block.header.height.0, i, a));
        }
    }
    let carriers: BTreeSet<u64> = anchor_places.iter().map(|(h, _, _)| *h).collect();
    writeln!(
        out,
        "   {} anchor transactions committed in blocks {}; all 7 validators hold the same chain: {}",
        anchor_places.len(),
        carriers
            .iter()
            .map(|h| format!("h{h}"))
            .collect::<Vec<_>>()
            .join(" "),
        if validators_agree { "yes" } else { "NO" }
    )?;

    // ---------------------------------------------------------------- 3. buyer
    section(
        out,
        "3. Buyer: one interval through 2-of-3 proxies, checked against the chain",
    )?;
    let granted = first_interval + GRANTED;
    let closed = first_interval + CLOSED;
    let now = last_time;
    let expires = now.saturating_add(Duration::from_days(30));
    let mut owner = owner;
    let mut proxies: Vec<Proxy> = proxy_keys
        .iter()
        .map(|k| {
            Proxy::new(
                k.clone(),
                ProxyConfig {
                    chain_id: spec.chain_id,
                    ..ProxyConfig::default()
                },
            )
        })
        .collect();
    let proxy_addrs: Vec<Address> = proxies.iter().map(|p| p.address()).collect();
    let (buyer_key, _seed) = PreSecretKey::random(&mut rng)?;
    let mut buyer = Grantee::new(
        buyer_key,
        GranteeConfig {
            chain_id: spec.chain_id,
            ..GranteeConfig::default()
        },
    );
    let grant_id = owner.grant(
        now,
        &mut rng,
        &GrantRequest {
            first_interval: granted,
            last_interval: granted,
            grantee: buyer.public_key(),
            threshold: 2,
            proxies: &proxy_addrs,
            expires_at: expires,
        },
    )?;
    let mut delivered = 0;
    while let Some(o) = owner.poll_output() {
        match o {
            OwnerOutput::PublishGrant(g) => {
                let bytes = encoding::encode_to_vec(&*g)?;
                buyer.accept_grant(now, &encoding::decode(&bytes)?)?;
            }
            OwnerOutput::SendKfrags { to, delivery } => {
                let bytes = encoding::encode_to_vec(&*delivery)?;
                if let Some(p) = proxies.iter_mut().find(|p| p.address() == to) {
                    p.handle_delivery(now, encoding::decode(&bytes)?)?;
                    if let Some(ProxyOutput::Accepted(_)) = p.poll_output() {
                        delivered += 1;
                    }
                }
            }
            _ => {}
        }
    }
    writeln!(
        out,
        "   owner grants interval {GRANTED} (minute {GRANTED}) to the buyer: grant {}, threshold 2, kfrags accepted by {delivered} of 3 proxies",
        short_hex(grant_id.0.as_bytes())
    )?;

    // The buyer finds the interval's anchors on chain and light-verifies the chain.
    let device_pk = device.public_key();
    let mut parent = genesis.clone();
    let mut light_ok = true;
    let mut signatures = 0usize;
    for v in &chain {
        match light.verify(v, &parent) {
            Ok(n) => signatures += n,
            Err(_) => light_ok = false,
        }
        parent = v.block.header.clone();
    }
    let interval_start = Timestamp(granted * schedule.encryption_interval().as_millis());
    let interval_end = interval_start.saturating_add(schedule.encryption_interval());
    let stream_anchors: Vec<&(u64, usize, Anchor)> = anchor_places
        .iter()
        .filter(|(_, _, a)| a.stream == stream && a.verify(&device_pk).is_ok())
        .collect();
    let start_anchor = stream_anchors
        .iter()
        .filter(|(_, _, a)| a.through <= interval_start)
        .max_by_key(|(_, _, a)| a.last_index)
        .map(|(_, _, a)| *a);
    let end = stream_anchors
        .iter()
        .find(|(_, _, a)| a.through >= interval_end)
        .copied()
        .ok_or("no anchor closes the granted interval")?;
    let (end_height, end_tx, end_anchor) = (end.0, end.1, end.2);
    let carrier = chain
        .iter()
        .find(|v| v.block.header.height.0 == end_height)
        .ok_or("carrier block missing")?;
    let carrier_parent = chain
        .iter()
        .find(|v| v.block.header.height.0 + 1 == end_height)
        .map(|v| v.block.header.clone())
        .unwrap_or_else(|| genesis.clone());
    let carrier_sigs = light.verify(carrier, &carrier_parent);
    light_ok &= carrier_sigs.is_ok();
    writeln!(
        out,
        "   light client: {} VALIDATEs from genesis verified ({signatures} signatures): {}",
        chain.len(),
        if light_ok { "all final" } else { "FAILED" }
    )?;
    writeln!(
        out,
        "   the anchor of data block #{} is tx {end_tx} of LBFT block h{end_height}; its VALIDATE: {} COMMIT signatures of 7 + proposer seal -> {}",
        end_anchor.last_index,
        carrier.certificate.signatures.len(),
        match &carrier_sigs {
            Ok(n) => format!("final ({n} signatures checked)"),
            Err(e) => format!("REFUSED ({e})"),
        }
    )?;

    // Re-encryption: proxy C is offline; A and B suffice.
    let first_record = index
        .values()
        .find(|r| r.interval == granted)
        .ok_or("no block in the granted interval")?;
    let wrapped = sharing::wrapped_key(first_record)?;
    buyer.request(now, &grant_id, granted, wrapped)?;
    let mut requests = Vec::new();
    while let Some(o) = buyer.poll_output() {
        if let GranteeOutput::SendRequest { to, request } = o {
            requests.push((to, request));
        }
    }
    let offline = proxy_addrs.get(2).copied();
    let mut ready = false;
    for (to, request) in requests {
        if Some(to) == offline {
            continue;
        }
        let Some(p) = proxies.iter_mut().find(|p| p.address() == to) else {
            continue;
        };
        p.handle_request(now, &mut rng, *request)?;
        while let Some(o) = p.poll_output() {
            if let ProxyOutput::Reply { bytes, .. } = o {
                buyer.handle_cfrag(now, encoding::decode(&bytes)?)?;
            }
        }
        while let Some(o) = buyer.poll_output() {
            ready |= matches!(o, GranteeOutput::Ready { .. });
        }
    }
    let key: IntervalKey = buyer.open(&grant_id, granted)?;
    writeln!(
        out,
        "   proxy C is offline; A and B return signed cfrags -> ready: {ready}; the opened key matches the blocks' key id: {}",
        key.id() == first_record.key_id
    )?;

    // Fetch the blocks from the DHT, walking back from the anchored head, with some storage
    // nodes offline; verify them against the on-chain anchors, then decrypt.
    let offline_nodes: BTreeSet<KadKey> = storage_nodes
        .iter()
        .take(STORAGE_OFFLINE)
        .copied()
        .collect();
    let first_index = start_anchor.map_or(0, |a| a.last_index + 1);
    let mut fetched: Vec<VecBlock> = Vec::new();
    let mut id = end_anchor.head;
    // Bounded walk: at most one step per indexed block, whatever the links say.
    for _ in 0..index.len() {
        let record = index.get(&id).ok_or("key-index record missing")?;
        let available: Vec<Shard> = dht
            .iter()
            .filter(|(node, _)| !offline_nodes.contains(node))
            .flat_map(|(_, shards)| shards.iter().filter(|s| s.block == id).cloned())
            .collect();
        let block = reassemble(record, &available)?;
        let (index_here, prev) = (block.header.index, block.header.prev);
        fetched.push(block);
        if index_here <= first_index {
            break;
        }
        id = prev;
    }
    if fetched.last().map(|b| b.header.index) != Some(first_index) {
        return Err(
            "the walk back from the anchored head did not reach the interval's first block".into(),
        );
    }
    fetched.reverse();
    let verifier = match start_anchor {
        Some(a) => ChainVerifier::resume(
            stream,
            device_pk,
            schedule,
            Checkpoint {
                next_index: a.last_index + 1,
                head: a.head,
                last_time: a.through,
            },
        ),
        None => ChainVerifier::new(stream, device_pk, schedule),
    };
    let covering: Vec<Anchor> = stream_anchors
        .iter()
        .map(|(_, _, a)| *a)
        .filter(|a| a.last_index >= first_index && a.last_index <= end_anchor.last_index)
        .collect();
    let mut readings: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    let keys = [key.clone()];
    let summary = read_chain(verifier, &covering, &fetched, &keys[..], |_, r| {
        readings.push((r.time, r.data.to_vec()));
    })?;
    writeln!(
        out,
        "   {} blocks rebuilt from shards with {STORAGE_OFFLINE} of {STORAGE_NODES} storage nodes offline; verified against {} on-chain anchors (up to block #{})",
        fetched.len(),
        covering.len(),
        summary.anchored.unwrap_or(0)
    )?;
    let expected: Vec<(Timestamp, Vec<u8>)> = (0..READINGS)
        .map(|i| {
            (
                genesis_time.saturating_add(Duration::from_secs(i)),
                network::reading(i),
            )
        })
        .filter(|(t, _)| *t >= interval_start && *t < interval_end)
        .collect();
    let shown: Vec<String> = readings
        .iter()
        .take(3)
        .map(|(t, d)| format!("{} {}", secs(genesis_time, *t), String::from_utf8_lossy(d)))
        .collect();
    let last = readings
        .last()
        .map(|(t, d)| format!("{} {}", secs(genesis_time, *t), String::from_utf8_lossy(d)))
        .unwrap_or_default();
    writeln!(
        out,
        "   read {} readings of interval {GRANTED}: {}, ..., {last}",
        readings.len(),
        shown.join(", ")
    )?;

    // Another interval stays closed, three ways.
    let closed_record = index
        .values()
        .find(|r| r.interval == closed)
        .ok_or("no block in the closed interval")?;
    let closed_wrapped = sharing::wrapped_key(closed_record)?;
    let by_grantee = buyer.request(now, &grant_id, closed, closed_wrapped.clone());
    let mut by_proxy = None;
    if let Some(p) = proxies.first_mut() {
        p.handle_request(
            now,
            &mut rng,
            ReencryptionRequest {
                grant: grant_id,
                interval: closed,
                capsule: closed_wrapped.capsule().clone(),
            },
        )?;
        while let Some(o) = p.poll_output() {
            match o {
                ProxyOutput::Refused { reason, .. } => by_proxy = Some(Err(reason)),
                ProxyOutput::Reply { .. } => by_proxy = Some(Ok(())),
                _ => {}
            }
        }
    }
    let closed_block = gateway
        .blocks
        .iter()
        .find(|b| b.header.interval == closed)
        .ok_or("no closed block")?;
    let mut scratch = vec![0u8; closed_block.body.len()];
    let by_reader = open_block(closed_block, &key, &mut scratch).map(|r| r.count());
    let other_interval_refused =
        by_grantee.is_err() && matches!(by_proxy, Some(Err(_))) && by_reader.is_err();
    writeln!(
        out,
        "   interval {CLOSED} stays closed:\n     the buyer's request -> {}\n     proxy A asked directly -> {}\n     the interval-{GRANTED} key on block #{} -> {}",
        by_grantee.err().map_or("ACCEPTED".into(), |e| e.to_string()),
        match by_proxy {
            Some(Err(e)) => format!("refused ({e})"),
            _ => "SERVED".into(),
        },
        closed_block.header.index,
        match by_reader {
            Ok(_) => "OPENED".into(),
            // The reader names absolute interval numbers (time / e); the story counts from
            // the stream's first interval.
            Err(cpchain_storage::VerifyError::WrongIntervalKey { .. }) => format!(
                "refused (its key id commits to interval {CLOSED}'s key, not this one)"
            ),
            Err(e) => format!("refused ({e})"),
        },
    )?;

    // ---------------------------------------------------------------- 4. DPoR
    section(
        out,
        "4. DPoR: RPT at the term's checkpoint and the next committee",
    )?;
    let checkpoint = Height(term_end);
    let checkpoint_block = chain.last().ok_or("empty chain")?;
    let window = dpor::rpt_window(&spec, checkpoint);
    let punish = dpor::punish_window(&spec, checkpoint);
    let count = |who: &Address, impeach: bool, range: &std::ops::RangeInclusive<Height>| {
        chain
            .iter()
            .filter(|v| {
                range.contains(&v.block.header.height)
                    && v.block.header.proposer == *who
                    && v.block.is_impeach() == impeach
            })
            .count() as u64
    };
    // Candidates: four proposers of the term (the silent one included), the data owner and
    // the three proxies. Balances and sent transactions are given; blocks proposed,
    // impeachments, data and proxy work are read from what just happened.
    let cpc = cpchain_core::BASE_UNITS_PER_CPC;
    let mut observed = Vec::new();
    let mut candidate_names = Vec::new();
    for (slot, balance, txs) in [
        (0usize, 240_000u128, 40u64),
        (3, 260_000, 55),
        (6, 205_000, 12),
        (9, 330_000, 30),
    ] {
        let a = *proposers.get(slot).ok_or("proposer slot")?;
        observed.push(Observation {
            address: a,
            balance: balance * cpc,
            transactions: txs,
            proposed_blocks: count(&a, false, &window),
            impeached_blocks: count(&a, true, &punish),
            ..Observation::default()
        });
        candidate_names.push(names.of(&a));
    }
    observed.push(Observation {
        address: owner_addr,
        balance: 215_000 * cpc,
        transactions: anchor_places.len() as u64 + 1,
        data_uploaded: gateway.blocks.len() as u64,
        data_bought: 1,
        ..Observation::default()
    });
    candidate_names.push("owner".into());
    for (i, (a, balance)) in proxy_addrs
        .iter()
        .zip([220_000u128, 280_000, 201_000])
        .enumerate()
    {
        observed.push(Observation {
            address: *a,
            balance: balance * cpc,
            transactions: 8 + i as u64,
            proxy_assists: u64::from(Some(*a) != offline),
            ..Observation::default()
        });
        candidate_names.push(names.of(a));
    }
    let records = dpor::compute_rpt(&spec, &observed)?;
    writeln!(
        out,
        "   RPT = 0.5 AB + 0.15 TX + 0.1 PR + 0.15 DC + 0.1 BM (rank scores), x (9 - impeachments) / 9; window h{}..h{}",
        window.start().0,
        window.end().0
    )?;
    writeln!(
        out,
        "   {:<10} {:>4} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6}",
        "candidate", "AB", "TX", "PR", "DC", "BM", "impeached", "RPT"
    )?;
    let mut silent_rpt = 0;
    let mut silent_punished = false;
    for ((r, o), name) in records.iter().zip(&observed).zip(&candidate_names) {
        let s = r.scores;
        let raw = dpor::rpt::weighted_sum(&spec, &s)?.max(dpor::RPT_FLOOR);
        let note = if r.rpt.0 < raw {
            format!(
                "  (x {}/9 of {raw})",
                9u64.saturating_sub(o.impeached_blocks)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "   {:<10} {:>4} {:>4} {:>4} {:>4} {:>4} {:>9} {:>6}{note}",
            name,
            s.balance,
            s.transactions,
            s.proxy,
            s.data,
            s.maintenance,
            o.impeached_blocks,
            r.rpt.0
        )?;
        if r.address == silent {
            silent_rpt = r.rpt.0;
            silent_punished = o.impeached_blocks > 0
                && r.rpt.0 == dpor::punish(raw, o.impeached_blocks)
                && r.rpt.0 < raw;
        }
    }
    let candidates: Vec<_> = records.iter().map(|r| r.candidate()).collect();
    let mut election = dpor_schedule.clone();
    let checkpoint_hash = checkpoint_block.block.id();
    let term = election.elect_at(checkpoint, &checkpoint_hash, &candidates)?;
    let committee = election
        .committee_of(term)
        .ok_or("no committee installed")?;
    let members: Vec<Address> = committee.members().collect();
    let distinct = members.iter().collect::<BTreeSet<_>>().len();
    writeln!(
        out,
        "   election at checkpoint h{} (seed: hash of block {} = {}) of the committee for term {} (lead 2, as on mainnet):",
        checkpoint.0,
        checkpoint.0,
        short_hex(checkpoint_hash.as_bytes()),
        term.get()
    )?;
    let seats: Vec<String> = committee
        .seats()
        .iter()
        .map(|s| {
            let tag = match s.kind {
                SeatKind::Low => "low",
                SeatKind::High => "high",
                SeatKind::Default => "default",
            };
            format!("{} ({tag})", names.of(&s.address))
        })
        .collect();
    for row in seats.chunks(4) {
        writeln!(out, "     {}", row.join(", "))?;
    }
    writeln!(
        out,
        "   {} seats, {distinct} distinct members: {} from the low-RPT half, {} from the high half, {} default proposers",
        members.len(),
        committee.count(SeatKind::Low),
        committee.count(SeatKind::High),
        committee.count(SeatKind::Default)
    )?;

    let story = Story {
        readings: READINGS,
        blocks: gateway.blocks.len(),
        anchors: gateway.anchors.len(),
        anchors_on_chain: stream_anchors.len(),
        heights: chain.len() as u64,
        impeached_heights,
        silent_proposer: silent,
        impeach_blocks_name_silent,
        validators_agree,
        granted_readings: readings.len(),
        granted_readings_match: readings == expected,
        other_interval_refused,
        light_verified: light_ok,
        silent_rpt,
        silent_punished,
        committee: members,
        committee_distinct: distinct,
    };
    writeln!(
        out,
        "\nSummary: {} readings, {} encrypted blocks, {} anchors in {} LBFT blocks ({} impeached); 1 of {INTERVALS} intervals opened via 2-of-3 proxies and light-verified; term-{} committee of {} elected.",
        story.readings,
        story.blocks,
        story.anchors_on_chain,
        story.heights,
        story.impeached_heights.len(),
        term.get(),
        story.committee_distinct
    )?;
    Ok(story)
}

fn section(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(out, "\n{title}")
}
