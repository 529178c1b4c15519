//! Act 2, the network: 7 LBFT validators commit the gateway's anchors; a silent proposer
//! is impeached. The demo's network runs as nodes of the deterministic simulator
//! (`cpchain_sim`): the LBFT validators, the term's proposers (RNodes that seal blocks on
//! their DPoR slot and keep a mempool) and the gateway (the data-chain writer on the
//! simulator's storage adapter, sending its anchors as transactions). Each node is a thin
//! host around a sans-IO state machine of the SDK.

use super::gateway::{self, reading};
use super::{secs, section, short_addr, short_hex, Cast, Result, READINGS, SILENT_SLOT};
use cpchain_consensus::dpor::{self, DEFAULT_SCHEDULE_CAPACITY};
use cpchain_consensus::lbft::{
    self, Block, BlockId, Fault, Header, ImpeachQuorum, LightVerifier, Message, Persisted,
    ProposerSchedule, Validate, ValidatorOutput, ValidatorSet,
};
use cpchain_core::{encoding, keccak256, Address, ChainSpec, Duration, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_sim::storage::{AnchorTx, Gateway as GatewayHost, GatewayNode, StorageEvent};
use cpchain_sim::{
    Context, FaultPlan, Host, MachineNode, NodeId, SimNode, SimRng, Simulator, Stats, StopReason,
    Topology,
};
use cpchain_storage::{Anchor, VecBlock, Writer};
use rand_core::SeedableRng;
use std::collections::BTreeSet;
use std::io::Write;
use std::rc::Rc;

/// Body capacity of the gateway's blocks (ten short readings fit easily).
pub const BLOCK_CAP: usize = 1024;

/// A gateway node of the demo network.
pub type Gateway = GatewayNode<BLOCK_CAP, Msg, Rc<Persisted>, Event>;

/// The DPoR proposer schedule, as the LBFT engine and light clients consume it.
#[derive(Debug, Clone)]
pub struct DporSchedule(pub Rc<dpor::Schedule>);

impl ProposerSchedule for DporSchedule {
    fn proposer_of(&self, height: Height) -> Option<Address> {
        self.0.proposer_of(height)
    }
}

/// A message on the simulated wire.
#[derive(Debug, Clone)]
pub enum Msg {
    /// An LBFT message (shared between the copies of a broadcast).
    Lbft(Rc<Message>),
    /// A transaction for the proposers' mempools: here, an encoded data-chain anchor.
    Tx(Rc<Vec<u8>>),
}

/// What nodes report to the simulator (the stop condition looks at commits).
#[derive(Debug, Clone)]
pub enum Event {
    /// A validator decided a block.
    Committed {
        /// Its height.
        height: Height,
        /// Whether it is an impeach block.
        impeach: bool,
    },
    /// A validator reported peer misbehaviour.
    Fault(&'static str),
    /// The gateway sent an anchor to the proposers.
    AnchorSubmitted,
}

impl From<AnchorTx> for Msg {
    fn from(tx: AnchorTx) -> Self {
        Msg::Tx(tx.0)
    }
}

impl From<StorageEvent> for Event {
    fn from(e: StorageEvent) -> Self {
        match e {
            StorageEvent::AnchorSubmitted => Event::AnchorSubmitted,
        }
    }
}

type Ctx = Context<Msg, Rc<Persisted>, Event>;

/// Public facts every node may know.
pub struct Net {
    /// Chain parameters.
    pub spec: ChainSpec,
    /// Node `i`'s address.
    pub addresses: Vec<Address>,
    /// Node ids of the validators.
    pub validators: Vec<NodeId>,
    /// Node ids of the proposers.
    pub proposers: Vec<NodeId>,
    /// How proposers check VALIDATE messages before adopting a block.
    pub light: LightVerifier<DporSchedule>,
}

impl Net {
    fn node_of(&self, a: &Address) -> Option<NodeId> {
        self.addresses.iter().position(|x| x == a)
    }
}

/// The validator's engine (it keeps the one machine contract itself).
pub type Engine = cpchain_sim::lbft::Engine<DporSchedule>;

/// A validator of the demo network: the engine and its host on the simulator's generic node.
pub type ValidatorNode = MachineNode<Engine, ValidatorHost>;

/// A validator's host: routes the engine's outputs, judges block bodies, keeps the chain.
pub struct ValidatorHost {
    net: Rc<Net>,
    id: NodeId,
    /// Content verdicts owed to the engine, given once the drain is over.
    checks: Vec<(BlockId, bool)>,
    /// Decided blocks with their certificates, in height order.
    pub chain: Vec<Validate>,
}

impl ValidatorHost {
    /// The host of validator node `id`.
    pub fn new(net: Rc<Net>, id: NodeId) -> Self {
        ValidatorHost {
            net,
            id,
            checks: Vec::new(),
            chain: Vec::new(),
        }
    }
}

impl Host<Engine> for ValidatorHost {
    type Message = Msg;
    type Persisted = Rc<Persisted>;
    type Observation = Event;

    fn on_message(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        from: NodeId,
        msg: Msg,
        _: &mut Ctx,
    ) {
        if let Msg::Lbft(m) = msg {
            let from = self
                .net
                .addresses
                .get(from)
                .copied()
                .unwrap_or(Address::ZERO);
            // A refused message is the engine's verdict; it leaves the state unchanged.
            let _ = engine.handle_message(now, from, (*m).clone());
        }
    }

    fn on_output(&mut self, _: Timestamp, out: ValidatorOutput, ctx: &mut Ctx) {
        match out {
            ValidatorOutput::Persist(p) => ctx.persist(Rc::new(p)),
            ValidatorOutput::Broadcast(m) => {
                let m = Rc::new(m);
                if matches!(*m, Message::Validate(_)) {
                    // VALIDATE goes to every node (§2.4.2 step 4): proposers follow the chain.
                    ctx.broadcast(Msg::Lbft(m));
                } else {
                    for &v in self.net.validators.iter().filter(|&&v| v != self.id) {
                        ctx.send(v, Msg::Lbft(m.clone()));
                    }
                }
            }
            ValidatorOutput::Send { to, msg } => {
                if let Some(node) = self.net.node_of(&to) {
                    ctx.send(node, Msg::Lbft(Rc::new(msg)));
                }
            }
            ValidatorOutput::CheckBlock { block, .. } => {
                // The host's judgement of the body: every transaction must be a
                // well-formed anchor (canonical encoding, size-limited).
                let valid = block
                    .transactions
                    .iter()
                    .all(|tx| encoding::decode::<Anchor>(tx).is_ok());
                self.checks.push((block.id(), valid));
            }
            ValidatorOutput::Commit { block, certificate } => {
                ctx.observe(Event::Committed {
                    height: block.header.height,
                    impeach: block.is_impeach(),
                });
                self.chain.push(Validate { block, certificate });
            }
            ValidatorOutput::Fault(f) => ctx.observe(Event::Fault(fault_name(&f))),
            // Outputs added after this story was written have nothing to show in it.
            _ => {}
        }
    }

    fn after_drain(&mut self, engine: &mut Engine, now: Timestamp, _: &mut Ctx) -> bool {
        let owed = !self.checks.is_empty();
        for (id, valid) in self.checks.drain(..) {
            engine.block_checked(now, id, valid);
        }
        owed
    }
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::Equivocation { .. } => "vote equivocation",
        Fault::ProposerEquivocation { .. } => "proposer equivocation",
        Fault::LeaderEquivocation { .. } => "leader equivocation",
        Fault::BadSeal { .. } => "bad seal",
        Fault::IllicitBlock { .. } => "illicit block",
        _ => "other fault",
    }
}

/// A proposer (an RNode of the term's committee): follows the chain through VALIDATE
/// messages it light-verifies, keeps a mempool, and seals a block on its slot.
pub struct ProposerNode {
    net: Rc<Net>,
    key: SecretKey,
    me: Address,
    head: Header,
    /// A silent proposer never proposes (offline, or withholding).
    pub silent: bool,
    proposed: Option<Height>,
    mempool: Vec<(Hash, Rc<Vec<u8>>)>,
    committed: BTreeSet<Hash>,
    /// Blocks this proposer sealed.
    pub sealed: u64,
}

impl ProposerNode {
    /// A proposer following the chain from `genesis`.
    pub fn new(net: Rc<Net>, key: SecretKey, genesis: Header, silent: bool) -> Self {
        let me = key.public_key().address();
        ProposerNode {
            net,
            key,
            me,
            head: genesis,
            silent,
            proposed: None,
            mempool: Vec::new(),
            committed: BTreeSet::new(),
            sealed: 0,
        }
    }

    fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Tx(tx) => {
                let h = keccak256(&tx);
                if !self.committed.contains(&h) && !self.mempool.iter().any(|(x, _)| *x == h) {
                    self.mempool.push((h, tx));
                }
            }
            Msg::Lbft(m) => {
                let Message::Validate(v) = &*m else {
                    return;
                };
                let next = self.head.height.0.saturating_add(1);
                if v.block.header.height.0 != next || self.net.light.verify(v, &self.head).is_err()
                {
                    return;
                }
                for tx in &v.block.transactions {
                    self.committed.insert(keccak256(tx));
                }
                let committed = &self.committed;
                self.mempool.retain(|(h, _)| !committed.contains(h));
                self.head = v.block.header.clone();
            }
        }
    }

    fn deadline(&self) -> Option<Timestamp> {
        let h = Height(self.head.height.0.saturating_add(1));
        if self.silent
            || self.proposed == Some(h)
            || self.net.light.schedule.proposer_of(h) != Some(self.me)
        {
            return None;
        }
        Some(
            self.head
                .timestamp
                .saturating_add(self.net.spec.block_period),
        )
    }

    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        if self.deadline().is_none_or(|d| now < d) {
            return;
        }
        let txs: Vec<Vec<u8>> = self.mempool.iter().map(|(_, t)| t.to_vec()).collect();
        let block = Block::propose(&self.net.spec, &self.head, &self.key, self.me, now, txs);
        self.proposed = Some(block.header.height);
        self.sealed += 1;
        let m = Rc::new(Message::PrePrepare(block));
        for &v in &self.net.validators {
            ctx.send(v, Msg::Lbft(m.clone()));
        }
    }
}

/// A node of the demo network.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// An LBFT validator.
    Validator(ValidatorNode),
    /// A proposer.
    Proposer(ProposerNode),
    /// The data gateway: the data-chain writer on the simulator's storage adapter.
    Gateway(Gateway),
    /// A node that is down (the demo plans no crashes; the simulator's restart hook needs
    /// something to return).
    Down,
}

impl SimNode for Node {
    type Message = Msg;
    type Persisted = Rc<Persisted>;
    type Observation = Event;

    fn on_start(&mut self, now: Timestamp, ctx: &mut Ctx) {
        match self {
            Node::Validator(v) => v.on_start(now, ctx),
            Node::Gateway(g) => g.on_start(now, ctx),
            Node::Proposer(_) | Node::Down => {}
        }
    }

    fn on_message(&mut self, now: Timestamp, from: NodeId, msg: Msg, ctx: &mut Ctx) {
        match self {
            Node::Validator(v) => v.on_message(now, from, msg, ctx),
            Node::Proposer(p) => p.on_message(msg),
            Node::Gateway(g) => g.on_message(now, from, msg, ctx),
            Node::Down => {}
        }
    }

    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        match self {
            Node::Validator(v) => v.on_timeout(now, ctx),
            Node::Proposer(p) => p.on_timeout(now, ctx),
            Node::Gateway(g) => g.on_timeout(now, ctx),
            Node::Down => {}
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        match self {
            Node::Validator(v) => v.next_deadline(),
            Node::Proposer(p) => p.deadline(),
            Node::Gateway(g) => g.next_deadline(),
            Node::Down => None,
        }
    }
}

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
    pub light: LightVerifier<DporSchedule>,
    /// The term's proposer schedule (elections happen on a copy).
    pub dpor_schedule: Rc<dpor::Schedule>,
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
    let dpor_schedule = Rc::new(dpor::Schedule::new(
        spec,
        &cast.proposers,
        DEFAULT_SCHEDULE_CAPACITY,
    )?);
    let lbft_schedule = DporSchedule(dpor_schedule.clone());
    let light = LightVerifier {
        spec: spec.clone(),
        validators: validators.clone(),
        impeach_quorum: ImpeachQuorum::default(),
        schedule: lbft_schedule.clone(),
    };
    let genesis = Header::genesis(spec, genesis_time);
    // Node ids: validators (committee order), proposers (slot order), the gateway.
    let mut addresses: Vec<Address> = validators.addresses().collect();
    let n_validators = addresses.len();
    addresses.extend(cast.proposers.iter().copied());
    let gateway_id = addresses.len();
    addresses.push(gateway::address(cast));
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
            lbft::Validator::new(cfg, lbft_schedule.clone(), genesis.clone(), genesis_time)?;
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
