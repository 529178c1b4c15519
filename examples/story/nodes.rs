//! The demo's network as nodes of the deterministic simulator (`cpchain_sim`): the LBFT
//! validators and the gateway on the simulator's generic [`MachineNode`] (each a small
//! [`Host`] around a sans-IO machine of the SDK), and the term's proposers (RNodes that seal
//! blocks on their DPoR slot and keep a mempool; no machine of the SDK, so a plain
//! [`SimNode`]).

use cpchain_consensus::dpor;
use cpchain_consensus::lbft::{
    Block, BlockId, Header, LightVerifier, Message, Persisted, Validate, ValidatorOutput,
};
use cpchain_core::{encoding, keccak256, Address, ChainSpec, Hash, Height, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_sim::storage::{AnchorTx, GatewayNode, StorageEvent};
use cpchain_sim::{Context, Host, MachineNode, NodeId, SimNode};
use cpchain_storage::Anchor;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Body capacity of the gateway's blocks (ten short readings fit easily).
pub const BLOCK_CAP: usize = 1024;

/// The sensor: a temperature in hundredths of a degree, deterministic in `i`.
pub fn reading(i: u64) -> Vec<u8> {
    let centi = 2_100 + (i * 37) % 61 + (i / 30) * 7;
    format!("{}.{:02}C", centi / 100, centi % 100).into_bytes()
}

/// A gateway node of the demo network.
pub type Gateway = GatewayNode<BLOCK_CAP, Msg, Rc<Persisted>, Event>;

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
    pub light: LightVerifier<dpor::Schedule>,
}

impl Net {
    fn node_of(&self, a: &Address) -> Option<NodeId> {
        self.addresses.iter().position(|x| x == a)
    }
}

/// The validator's engine (it keeps the one machine contract itself).
pub type Engine = cpchain_sim::lbft::Engine<dpor::Schedule>;

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
            ValidatorOutput::Fault(f) => ctx.observe(Event::Fault(f.name())),
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
