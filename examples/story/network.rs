//! Act 2, the network: 7 LBFT validators commit the gateway's anchors; a silent proposer
//! is impeached. The validators, the term's proposers and the gateway ([`super::nodes`])
//! run in the deterministic simulator until every validator has committed the whole term.

use super::nodes::{reading, Event, Net, Node, ProposerNode, ValidatorHost, BLOCK_CAP};
use super::{secs, section, short_addr, short_hex, Cast, Result, READINGS, SILENT_SLOT};
use cpchain_consensus::dpor::{self, DEFAULT_SCHEDULE_CAPACITY};
use cpchain_consensus::lbft::{self, Header, ImpeachQuorum, LightVerifier, Validate, ValidatorSet};
use cpchain_core::{encoding, Address, Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_sim::storage::Gateway as GatewayHost;
use cpchain_sim::{FaultPlan, MachineNode, SimRng, Simulator, Stats, StopReason, Topology};
use cpchain_storage::{Anchor, VecBlock, Writer};
use rand_core::SeedableRng;
use std::collections::BTreeSet;
use std::io::Write;
use std::rc::Rc;

/// What the simulation established, for every act to tell.
pub struct Run {
    /// The committed chain (the first validator's, up to the term's end).
    pub chain: Vec<Validate>,
    /// Whether every validator committed that chain.
    pub validators_agree: bool,
    /// The gateway's sealed blocks, in order.
    pub blocks: Vec<VecBlock>,
    /// The gateway's anchors, in order.
    pub anchors: Vec<Anchor>,
    /// Faults the validators reported.
    pub faults: Vec<&'static str>,
    /// The simulator's counters.
    pub stats: Stats,
    /// How light clients (and the buyer) check VALIDATE messages.
    pub light: LightVerifier<dpor::Schedule>,
    /// The term's proposer schedule (elections happen on a copy).
    pub dpor_schedule: dpor::Schedule,
    /// The genesis header.
    pub genesis: Header,
    /// The term's last height.
    pub term_end: u64,
}

/// Simulate the network (validators, proposers, the gateway around `writer`) until every
/// validator has committed the whole term.
pub fn simulate(cast: &Cast, seed: u64, writer: Writer<BLOCK_CAP>) -> Result<Run> {
    let spec = &cast.spec;
    let genesis_time = cast.genesis_time;
    let validators = ValidatorSet::new(&cast.validator_publics)?;
    // Every validator and the light verifier hold their own copy of the schedule: no
    // election happens during the run (the one at the checkpoint is act 4's).
    let dpor_schedule = dpor::Schedule::new(spec, &cast.proposers, DEFAULT_SCHEDULE_CAPACITY)?;
    let light = LightVerifier {
        spec: spec.clone(),
        validators: validators.clone(),
        impeach_quorum: ImpeachQuorum::default(),
        schedule: dpor_schedule.clone(),
    };
    let genesis = Header::genesis(spec, genesis_time);
    // Node ids: validators (committee order), proposers (slot order), the gateway.
    let mut addresses: Vec<Address> = validators.addresses().collect();
    let n_validators = addresses.len();
    addresses.extend(cast.proposers.iter().copied());
    let gateway_id = addresses.len();
    addresses.push(cast.device.public_key().address());
    let net = Rc::new(Net {
        spec: spec.clone(),
        addresses,
        validators: (0..n_validators).collect(),
        proposers: (n_validators..gateway_id).collect(),
        light: light.clone(),
    });
    let mut nodes: Vec<Node> = Vec::new();
    let mut sorted_keys: Vec<&SecretKey> = cast.validator_keys.iter().collect();
    sorted_keys.sort_by_key(|k| k.public_key().address());
    for (id, key) in sorted_keys.into_iter().enumerate() {
        let cfg = lbft::Config::new(spec.clone(), validators.clone(), key.clone());
        let engine =
            lbft::Validator::new(cfg, dpor_schedule.clone(), genesis.clone(), genesis_time)?;
        nodes.push(Node::Validator(MachineNode::new(
            engine,
            ValidatorHost::new(net.clone(), id),
        )));
    }
    for key in &cast.proposer_keys {
        let is_silent = key.public_key().address() == cast.silent;
        nodes.push(Node::Proposer(ProposerNode::new(
            net.clone(),
            key.clone(),
            genesis.clone(),
            is_silent,
        )));
    }
    nodes.push(Node::Gateway(MachineNode::new(
        writer,
        GatewayHost::new(
            net.proposers.clone(),
            reading,
            genesis_time,
            Duration::from_secs(1),
            READINGS,
        ),
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
            Some(Node::Validator(v)) => v.host.chain.len() as u64 >= term_end,
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
    if let Some(e) = gateway.host.errors.first() {
        return Err(format!("gateway: {e}").into());
    }
    let chains: Vec<&Vec<Validate>> = (0..n_validators)
        .filter_map(|i| match sim.node(i) {
            Some(Node::Validator(v)) => Some(&v.host.chain),
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
            Event::Fault(f) => Some(f),
            _ => None,
        })
        .collect();
    Ok(Run {
        chain,
        validators_agree,
        blocks: gateway.host.blocks.clone(),
        anchors: gateway.host.anchors.clone(),
        faults,
        stats: sim.stats(),
        light,
        dpor_schedule,
        genesis,
        term_end,
    })
}

/// What act 2 established about the chain.
pub struct Consensus {
    /// Heights whose committed block is an impeach block.
    pub impeached_heights: Vec<u64>,
    /// Whether every impeach block names the silent proposer.
    pub impeach_blocks_name_silent: bool,
    /// Every anchor on chain: (height, transaction index, anchor).
    pub anchor_places: Vec<(u64, usize, Anchor)>,
    /// Time of the last committed block.
    pub last_time: Timestamp,
}

/// Tell act 2: the committee, the silent proposer's impeachments, the anchors on chain.
pub fn report(cast: &Cast, run: &Run, out: &mut dyn Write) -> Result<Consensus> {
    let (spec, names, silent) = (&cast.spec, &cast.names, cast.silent);
    let genesis_time = cast.genesis_time;
    let chain = &run.chain;
    section(
        out,
        "2. LBFT: 7 validators commit the anchors; a silent proposer is impeached",
    )?;
    let validators = &run.light.validators;
    writeln!(
        out,
        "   {} validators (f = {}, quorum {}), {} proposers in term 0, period {} s, impeach timeout {} s",
        validators.len(),
        validators.f(),
        validators.quorum(),
        cast.proposers.len(),
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
    let last_time = chain
        .last()
        .map(|v| v.block.header.timestamp)
        .unwrap_or(genesis_time);
    writeln!(
        out,
        "   simulated network (seeded, 20-120 ms links): {} heights over {} of chain time, {} messages delivered",
        chain.len(),
        secs(genesis_time, last_time),
        run.stats.delivered
    )?;
    let mut impeached_heights = Vec::new();
    let mut impeach_blocks_name_silent = true;
    for v in chain {
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
        if run.faults.is_empty() {
            "none".to_string()
        } else {
            run.faults.join(", ")
        }
    )?;
    let mut anchor_places: Vec<(u64, usize, Anchor)> = Vec::new();
    for v in chain {
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
        if run.validators_agree { "yes" } else { "NO" }
    )?;
    Ok(Consensus {
        impeached_heights,
        impeach_blocks_name_silent,
        anchor_places,
        last_time,
    })
}
