//! The LBFT adapter of the simulator: `n` validators and `m` light nodes driven only
//! through the engine's public sans-IO API ([`cpchain_consensus::lbft::Validator`],
//! [`cpchain_consensus::lbft::LightVerifier`]), Byzantine validators, and the checkers.
//!
//! [`run`] plays one (seed, [`Scenario`]) and returns a [`RunReport`]: the violations the
//! checkers found, the figures of the summary, and (when asked) the tail of the trace.
//!
//! # Checkers (every run)
//!
//! * **agreement**: no two honest nodes (validators or light nodes) commit different blocks
//!   at one height.
//! * **validity**: every block an honest node commits passes an independent light
//!   verification (certificate quorum of distinct valid signatures, seal, header rules)
//!   against the block it committed before, and extends it.
//! * **honest-equivocation**: no honest validator signs two votes of one phase for
//!   different blocks in one round of a height, across crashes and restarts.
//! * **detection**: when an honest validator is handed the second half of an equivocation
//!   (a validly signed vote of the same voter, phase, height and round for another block,
//!   at its current height, in round reach, or a second sealed proposal of the scheduled
//!   proposer) its engine emits the matching `Fault` in the same step; and no honest node
//!   ever reports a fault accusing an honest validator (**false-accusation**).
//! * **liveness**: after the last fault heals at `H`, every honest node commits every
//!   height up to the target by `H + settle + k · per_height` (see [`LivenessBound`]),
//!   where `k` is the number of heights the slowest honest node still lacked at `H`. It
//!   holds with up to `f` Byzantine validators misbehaving to the end.

mod byzantine;
mod check;
mod host;
mod light;
mod shared;

pub use byzantine::{Behaviour, Byzantine};
pub use check::{check_liveness, check_safety, Figures, Violation};
pub use host::{Engine, ValidatorHost, ValidatorNode};
pub use light::{LightNode, LIGHT_BUFFER};
pub use shared::{Event, FaultClass, Record, Shared, SimMsg, ILLICIT_TX};

use crate::network::uniform;
use crate::{
    Context, FaultPlan, Nemesis, NodeId, SimNode, SimRng, Simulator, Stats, StopReason, Topology,
};
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use cpchain_consensus::lbft::{Config, FixedSchedule, Header, ImpeachQuorum, ValidatorSet};
use cpchain_core::{keccak256_concat, Address, ChainSpec, Duration, Height, Timestamp};
use cpchain_crypto::SecretKey;
use rand_core::{RngCore, SeedableRng};

/// Which faults a run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NemesisMode {
    /// A reliable network, exact clocks, everyone honest.
    None,
    /// Loss, duplication, delay and reordering windows; symmetric and one-way partitions.
    Network,
    /// Crashes and restarts from persisted state.
    Crash,
    /// Clock skew and drift.
    Clock,
    /// Up to `f` Byzantine validators (a quarter of the seeds get the `f + 1` forker).
    Byzantine,
    /// Everything, switched on and off and drawn per seed.
    Swarm,
}

impl NemesisMode {
    /// Parse a command-line name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => NemesisMode::None,
            "network" => NemesisMode::Network,
            "crash" => NemesisMode::Crash,
            "clock" => NemesisMode::Clock,
            "byzantine" => NemesisMode::Byzantine,
            "swarm" => NemesisMode::Swarm,
            _ => return None,
        })
    }
}

/// What to simulate (the seed chooses everything else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Validators: `3f + 1`.
    pub validators: usize,
    /// Light nodes following the chain.
    pub light_nodes: usize,
    /// Every honest node must commit this many heights.
    pub heights: u64,
    /// The nemesis.
    pub nemesis: NemesisMode,
    /// The impeach rule every node runs.
    pub impeach_quorum: ImpeachQuorum,
    /// Least one-way link delay, ms.
    pub min_delay_ms: u64,
    /// Greatest one-way link delay, ms (the message delay `Δ` of the liveness bound).
    pub max_delay_ms: u64,
    /// The Byzantine validators' misbehaviours, when a test fixes them (`None`: drawn
    /// per seed).
    pub behaviour: Option<Behaviour>,
}

impl Scenario {
    /// `validators` validators, 2 light nodes, 10–100 ms links, default impeach quorum.
    pub fn new(validators: usize, heights: u64, nemesis: NemesisMode) -> Self {
        Scenario {
            validators,
            light_nodes: 2,
            heights,
            nemesis,
            impeach_quorum: ImpeachQuorum::default(),
            min_delay_ms: 10,
            max_delay_ms: 100,
            behaviour: None,
        }
    }
}

/// The liveness bound of a run, from the chain's timing and the network's `Δ`.
///
/// `per_height = P + 2T + Σ_{r=1}^{f+1} min(T·2^r, C) + 10Δ`: the proposal window, round
/// 0 (its give-up timer and its end), then up to `f + 1` later rounds (within `f + 1`
/// consecutive leaders one is honest), and ten message delays of slack for the three
/// phases and a round change. `settle = C + S + 10Δ`: a round in progress at the heal
/// ends, and a node that missed blocks asks for them within one sync interval `S`.
/// Both are stretched by 1/20 for clock drift (the nemesis draws at most 2 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessBound {
    /// Time allowed per height.
    pub per_height: Duration,
    /// Time allowed to settle after the heal.
    pub settle: Duration,
}

impl LivenessBound {
    /// The bound for a chain and a network delay.
    pub fn new(spec: &ChainSpec, max_round: Duration, sync: Duration, delta_ms: u64) -> Self {
        let t = spec.impeach_timeout.as_millis();
        let c = max_round.as_millis();
        let f = u64::from(spec.fault_tolerance);
        let mut rounds = 0u64;
        for r in 1..=f.saturating_add(1) {
            let len = t.saturating_mul(1u64.checked_shl(r.min(62) as u32).unwrap_or(u64::MAX));
            rounds = rounds.saturating_add(len.min(c));
        }
        let stretch = |x: u64| x.saturating_add(x / 20);
        let per_height = spec
            .block_period
            .as_millis()
            .saturating_add(t.saturating_mul(2))
            .saturating_add(rounds)
            .saturating_add(delta_ms.saturating_mul(10));
        let settle = c
            .saturating_add(sync.as_millis())
            .saturating_add(delta_ms.saturating_mul(10));
        LivenessBound {
            per_height: Duration(stretch(per_height)),
            settle: Duration(stretch(settle)),
        }
    }
}

/// A simulated LBFT node.
#[allow(clippy::large_enum_variant)]
pub enum LbftNode {
    /// A validator (honest or Byzantine): the engine and its host on the generic node.
    Validator(ValidatorNode),
    /// A light node.
    Light(LightNode),
}

impl LbftNode {
    /// Height of the last block this node committed.
    pub fn committed_height(&self) -> Height {
        match self {
            LbftNode::Validator(v) => v.host.committed_height(),
            LbftNode::Light(l) => l.committed_height(),
        }
    }
}

type Ctx = Context<SimMsg, Record, Event>;

impl SimNode for LbftNode {
    type Message = SimMsg;
    type Persisted = Record;
    type Observation = Event;

    fn on_start(&mut self, now: Timestamp, ctx: &mut Ctx) {
        match self {
            LbftNode::Validator(v) => v.on_start(now, ctx),
            LbftNode::Light(l) => l.on_start(now, ctx),
        }
    }
    fn on_message(&mut self, now: Timestamp, from: NodeId, msg: SimMsg, ctx: &mut Ctx) {
        match self {
            LbftNode::Validator(v) => v.on_message(now, from, msg, ctx),
            LbftNode::Light(l) => l.on_message(now, from, msg, ctx),
        }
    }
    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        match self {
            LbftNode::Validator(v) => v.on_timeout(now, ctx),
            LbftNode::Light(l) => l.on_timeout(now, ctx),
        }
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        match self {
            LbftNode::Validator(v) => v.next_deadline(),
            LbftNode::Light(l) => l.next_deadline(),
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// What the checkers found.
    pub violations: Vec<Violation>,
    /// Figures for the summary.
    pub figures: Figures,
    /// Simulator counters.
    pub stats: Stats,
    /// Why the run stopped.
    pub stop: StopReason,
    /// When the last fault healed (ms after the start).
    pub heal_ms: u64,
    /// Mean one-way link delay, ms (the unit of "message delays").
    pub mean_delay_ms: u64,
    /// One line on what the nemesis drew.
    pub setup: String,
    /// Simulated time, ms.
    pub simulated_ms: u64,
    /// The trace tail (when asked).
    pub trace: Vec<String>,
}

/// Genesis time of every run.
pub const GENESIS_MS: u64 = 1_700_000_000_000;
/// Most events of one run.
pub const EVENT_BUDGET: u64 = 20_000_000;

std::thread_local! {
    /// Keys already derived on this thread: a k256 key costs a scalar multiplication, and
    /// every run of a batch uses the same ones.
    static KEYS: core::cell::RefCell<alloc::collections::BTreeMap<usize, SecretKey>> =
        const { core::cell::RefCell::new(alloc::collections::BTreeMap::new()) };
}

/// Node key `i`, a pure function of `i` (memoised per thread).
fn key(i: usize) -> SecretKey {
    if let Some(k) = KEYS.with(|m| m.borrow().get(&i).cloned()) {
        return k;
    }
    let k = derive_key(i);
    KEYS.with(|m| m.borrow_mut().insert(i, k.clone()));
    k
}

fn derive_key(i: usize) -> SecretKey {
    let mut counter = 0u64;
    loop {
        let h = keccak256_concat(&[
            b"cpchain-sim-key",
            &(i as u64).to_le_bytes(),
            &counter.to_le_bytes(),
        ]);
        if let Ok(k) = SecretKey::from_bytes(h.as_bytes()) {
            return k;
        }
        counter = counter.wrapping_add(1);
    }
}

/// Play one seed of a scenario. `trace_lines > 0` keeps the tail of a readable trace.
pub fn run(scenario: &Scenario, seed: u64, trace_lines: usize) -> RunReport {
    // n nodes check the same signatures: verify each once (per thread, bounded).
    cpchain_crypto::verify_cache::enable(1 << 16);
    let mut rng = SimRng::seed_from_u64(seed);
    rng.set_stream(1);
    let n = scenario.validators.max(1);
    let f = (n - 1) / 3;
    let total = n + scenario.light_nodes;
    let mut spec = ChainSpec::devnet();
    spec.fault_tolerance = u32::try_from(f).unwrap_or(0);
    // Keys by index, validators ordered by address so that node i is committee member i.
    let mut vkeys: Vec<SecretKey> = (0..n).map(key).collect();
    vkeys.sort_by_cached_key(|k| k.public_key().address());
    let publics: Vec<_> = vkeys.iter().map(|k| k.public_key()).collect();
    let Ok(validators) = ValidatorSet::new(&publics) else {
        return failed_setup(seed, "validator set refused");
    };
    let mut addresses: Vec<Address> = validators.addresses().collect();
    for i in 0..scenario.light_nodes {
        addresses.push(key(10_000 + i).public_key().address());
    }
    let schedule = FixedSchedule::new(validators.addresses().collect());
    let sync = spec.block_period.saturating_mul(2);
    let max_round = spec.impeach_timeout.saturating_mul(4);
    let shared = Rc::new(Shared::new(
        spec.clone(),
        validators.clone(),
        schedule,
        scenario.impeach_quorum,
        addresses,
        n,
        sync,
        16,
    ));

    // The nemesis draws.
    let origin = Timestamp(GENESIS_MS);
    let topology = Topology::random(
        total,
        scenario.min_delay_ms,
        scenario.max_delay_ms,
        &mut rng,
    );
    let horizon = Duration(
        scenario
            .heights
            .saturating_mul(spec.block_period.as_millis())
            .saturating_mul(3)
            / 5,
    );
    let mut base = Nemesis::quiet(total, horizon);
    base.max_window = Duration(spec.block_period.as_millis().saturating_mul(8));
    base.max_extra_delay_ms = scenario.max_delay_ms.saturating_mul(3);
    base.max_skew_ms = spec.block_period.as_millis() / 6;
    let mut byz_count = 0usize;
    let nemesis = match scenario.nemesis {
        NemesisMode::None | NemesisMode::Byzantine => base.clone(),
        NemesisMode::Network => Nemesis {
            weather: true,
            partitions: true,
            ..base.clone()
        },
        NemesisMode::Crash => Nemesis {
            crashes: true,
            ..base.clone()
        },
        NemesisMode::Clock => Nemesis {
            clocks: true,
            ..base.clone()
        },
        NemesisMode::Swarm => {
            let all = Nemesis {
                weather: true,
                partitions: true,
                crashes: true,
                clocks: true,
                ..base.clone()
            };
            Nemesis::swarm(&all, &mut rng)
        }
    };
    match scenario.nemesis {
        NemesisMode::Byzantine => {
            byz_count = usize::try_from(uniform(&mut rng, 1, f.max(1) as u64)).unwrap_or(1);
        }
        NemesisMode::Swarm if rng.next_u32() % 2 == 0 => {
            byz_count = usize::try_from(uniform(&mut rng, 0, f as u64)).unwrap_or(0);
        }
        _ => {}
    }
    let byz_count = byz_count.min(f);
    let mut byzantine: Vec<Option<Behaviour>> = alloc::vec![None; n];
    let mut picked = 0;
    while picked < byz_count {
        let i = usize::try_from(rng.next_u64() % n as u64).unwrap_or(0);
        if let Some(slot) = byzantine.get_mut(i) {
            if slot.is_none() {
                let forker = scenario.nemesis == NemesisMode::Byzantine && rng.next_u32() % 4 == 0;
                *slot = Some(if forker {
                    Behaviour::forker()
                } else {
                    let drawn = Behaviour::draw(&mut rng).with_tampering(seed, i);
                    scenario.behaviour.unwrap_or(drawn)
                });
                picked += 1;
            }
        }
    }
    let plan: FaultPlan = nemesis.plan(total, origin, &mut rng);
    let heal = plan.heals_at(origin);
    let (w, p, o, c) = plan.counts();
    let byz_desc: Vec<String> = byzantine
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|b| format!("v{i}:{b:?}")))
        .collect();
    let setup = format!(
        "n={n} light={} quorum={:?} weather={w} partitions={p} one-way={o} crashes={c} clocks={} byzantine=[{}]",
        scenario.light_nodes,
        scenario.impeach_quorum,
        nemesis.clocks,
        byz_desc.join("; ")
    );
    let honest: Vec<bool> = (0..total)
        .map(|i| byzantine.get(i).is_none_or(|b| b.is_none()))
        .collect();

    // The nodes.
    let genesis = Header::genesis(&spec, origin);
    let configs: Vec<Config> = vkeys
        .iter()
        .map(|k| {
            let mut c = Config::new(spec.clone(), validators.clone(), k.clone());
            c.impeach_quorum = scenario.impeach_quorum;
            c.max_round_length = max_round;
            c
        })
        .collect();
    let build = {
        let shared = shared.clone();
        let genesis = genesis.clone();
        move |id: NodeId, disk: &[Record], now: Timestamp| -> LbftNode {
            if let Some(cfg) = configs.get(id) {
                let byz = byzantine
                    .get(id)
                    .copied()
                    .flatten()
                    .map(|b| Byzantine::new(b, cfg.key.clone(), seed, id));
                if let Some(h) =
                    ValidatorHost::start(shared.clone(), id, cfg.clone(), &genesis, now, byz, disk)
                {
                    return LbftNode::Validator(h);
                }
            }
            LbftNode::Light(LightNode::new(shared.clone(), id, &genesis, disk))
        }
    };
    let build = Rc::new(build);
    let nodes: Vec<LbftNode> = (0..total).map(|i| build(i, &[], origin)).collect();
    let restart_build = build.clone();
    let mut sim = Simulator::new(
        seed,
        origin,
        nodes,
        topology,
        plan,
        Box::new(move |id, disk| restart_build(id, disk, origin)),
    )
    .with_event_budget(EVENT_BUDGET);
    if trace_lines > 0 {
        sim = sim.with_trace(trace_lines);
    }

    let mut links = 0u64;
    let mut sum = 0u64;
    for a in 0..total {
        for b in (0..total).filter(|&b| b != a) {
            if let Some(l) = sim.topology().link(a, b) {
                links += 1;
                sum += match l.latency {
                    crate::Latency::Constant(d) => d,
                    crate::Latency::Uniform { min, max }
                    | crate::Latency::LongTail { min, max, .. } => (min + max) / 2,
                };
            }
        }
    }
    let mean_delay_ms = sum.checked_div(links).unwrap_or(1).max(1);

    let target = scenario.heights;
    let honest_ids: Vec<NodeId> = (0..total)
        .filter(|&i| honest.get(i) == Some(&true))
        .collect();
    let done = |s: &Simulator<LbftNode>| {
        honest_ids
            .iter()
            .all(|&i| s.node(i).is_some_and(|x| x.committed_height().0 >= target))
    };
    // Phase 1: up to the heal. Phase 2: the liveness bound from there.
    let bound = LivenessBound::new(&spec, max_round, sync, scenario.max_delay_ms);
    let mut stop = sim.run_until(heal, done);
    let mut deadline = heal;
    if stop != StopReason::Condition && stop != StopReason::EventBudget {
        let lowest = honest_ids
            .iter()
            .map(|&i| sim.node(i).map(|x| x.committed_height().0).unwrap_or(0))
            .min()
            .unwrap_or(0);
        let k = target.saturating_sub(lowest);
        deadline = heal
            .saturating_add(bound.settle)
            .saturating_add(bound.per_height.saturating_mul(k));
        stop = sim.run_until(deadline, done);
    }
    let (mut violations, figures) = check_safety(&shared, sim.observations(), &honest);
    if violations.iter().any(|v| v.checker == "agreement") {
        // After a fork the two sides judge each other's blocks illicit (wrong parent) and
        // cannot both reach the target: those reports are consequences, not findings.
        let before = violations.len();
        violations.retain(|v| v.checker != "false-accusation");
        if violations.len() != before || stop != StopReason::Condition {
            violations.push(Violation {
                checker: "agreement",
                detail: String::from(
                    "(false-accusation and liveness checks suppressed: downstream of the fork)",
                ),
            });
        }
    } else if stop == StopReason::EventBudget {
        violations.push(Violation {
            checker: "liveness",
            detail: format!("event budget of {EVENT_BUDGET} spent (livelock or message storm)"),
        });
    } else if stop != StopReason::Condition {
        let heights: Vec<(NodeId, Option<Height>)> = honest_ids
            .iter()
            .map(|&i| (i, sim.node(i).map(|x| x.committed_height())))
            .collect();
        let note = format!("settle {} + per height {}", bound.settle, bound.per_height);
        violations.extend(check_liveness(&heights, target, deadline, heal, &note));
    }
    RunReport {
        seed,
        violations,
        figures,
        stats: sim.stats(),
        stop,
        heal_ms: heal.0.saturating_sub(origin.0),
        mean_delay_ms,
        setup,
        simulated_ms: sim.now().0.saturating_sub(origin.0),
        trace: sim.trace(),
    }
}

fn failed_setup(seed: u64, why: &str) -> RunReport {
    RunReport {
        seed,
        violations: alloc::vec![Violation {
            checker: "setup",
            detail: String::from(why),
        }],
        figures: Figures::default(),
        stats: Stats::default(),
        stop: StopReason::Idle,
        heal_ms: 0,
        mean_delay_ms: 1,
        setup: String::new(),
        simulated_ms: 0,
        trace: Vec::new(),
    }
}
