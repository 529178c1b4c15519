//! The storage adapter: a gateway ([`cpchain_sim::storage::Gateway`] around the data-chain
//! writer) driven by the generic [`cpchain_sim::MachineNode`] records every reading, seals
//! the same blocks and anchors as the writer driven by hand, and its anchors reach the chain.

use cpchain_core::machine::{drain, Machine};
use cpchain_core::{encoding, Duration, Timestamp};
use cpchain_crypto::SecretKey;
use cpchain_sim::storage::{AnchorTx, Gateway, GatewayNode, StorageEvent};
use cpchain_sim::{
    Context, FaultPlan, LinkProfile, MachineNode, NodeId, SimNode, Simulator, StopReason, Topology,
};
use cpchain_storage::{
    verify_chain, Anchor, ChainVerifier, MasterSecret, Schedule, StreamId, VecBlock, Writer,
    WriterOutput,
};

const CAP: usize = 2048;
const STREAM: StreamId = StreamId([0x44; 32]);
const START: Timestamp = Timestamp(1_700_000_040_000);
const READINGS: u64 = 95;

fn schedule() -> Schedule {
    // T = 1 s blocks, e = 4 s keys, u = 2 s anchors.
    Schedule::new(
        Duration::from_millis(1000),
        Duration::from_millis(4000),
        Duration::from_millis(2000),
    )
    .unwrap()
}

fn device() -> SecretKey {
    SecretKey::from_bytes(&[0x11; 32]).unwrap()
}

fn writer() -> Writer<CAP> {
    let mut rng: rand_chacha::ChaCha20Rng = rand_core::SeedableRng::seed_from_u64(7);
    Writer::new(
        STREAM,
        schedule(),
        device(),
        MasterSecret::from_bytes([0x22; 32]),
        &mut rng,
    )
}

fn sensor(i: u64) -> Vec<u8> {
    format!("reading {i}").into_bytes()
}

/// The simulated wire: anchors only.
#[derive(Debug, Clone)]
enum Wire {
    Anchor(AnchorTx),
}

impl From<AnchorTx> for Wire {
    fn from(tx: AnchorTx) -> Self {
        Wire::Anchor(tx)
    }
}

/// A node of the chain that keeps every anchor transaction it hears.
#[derive(Default)]
struct Chain {
    txs: Vec<Vec<u8>>,
}

/// The test network: one gateway and two chain nodes (three nodes: the size difference
/// costs nothing).
#[allow(clippy::large_enum_variant)]
enum Node {
    Gateway(GatewayNode<CAP, Wire, (), StorageEvent>),
    Chain(Chain),
}

type Ctx = Context<Wire, (), StorageEvent>;

impl SimNode for Node {
    type Message = Wire;
    type Persisted = ();
    type Observation = StorageEvent;
    fn on_start(&mut self, now: Timestamp, ctx: &mut Ctx) {
        if let Node::Gateway(g) = self {
            g.on_start(now, ctx);
        }
    }
    fn on_message(&mut self, now: Timestamp, from: NodeId, msg: Wire, ctx: &mut Ctx) {
        match (self, msg) {
            (Node::Gateway(g), m) => g.on_message(now, from, m, ctx),
            (Node::Chain(c), Wire::Anchor(tx)) => c.txs.push(tx.0.to_vec()),
        }
    }
    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        if let Node::Gateway(g) = self {
            g.on_timeout(now, ctx);
        }
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        match self {
            Node::Gateway(g) => g.next_deadline(),
            Node::Chain(_) => None,
        }
    }
}

/// The writer driven by hand, as a host without the simulator would: each reading at its
/// time, the timer fired whenever due, every output drained.
fn by_hand() -> (Vec<VecBlock>, Vec<Anchor>) {
    let mut w = writer();
    let (mut blocks, mut anchors) = (Vec::new(), Vec::new());
    let mut take = |w: &mut Writer<CAP>| {
        drain(w, |o| match o {
            WriterOutput::Block(b) => blocks.push(b.to_vec_block()),
            WriterOutput::Anchor(a) => anchors.push(a),
        });
    };
    for i in 0..READINGS {
        let t = START.saturating_add(Duration::from_secs(i));
        while let Some(d) = Machine::next_deadline(&w).filter(|d| *d < t) {
            Machine::handle_timeout(&mut w, d);
            take(&mut w);
        }
        w.append(t, &sensor(i)).unwrap();
        take(&mut w);
    }
    while let Some(d) = Machine::next_deadline(&w) {
        Machine::handle_timeout(&mut w, d);
        take(&mut w);
    }
    (blocks, anchors)
}

fn run(seed: u64) -> Simulator<Node> {
    let gateway = MachineNode::new(
        writer(),
        Gateway::new(vec![1, 2], sensor, START, Duration::from_secs(1), READINGS),
    );
    let nodes = vec![
        Node::Gateway(gateway),
        Node::Chain(Chain::default()),
        Node::Chain(Chain::default()),
    ];
    let mut sim = Simulator::new(
        seed,
        START,
        nodes,
        Topology::uniform(3, LinkProfile::reliable(30)),
        FaultPlan::none(),
        Box::new(|_, _| Node::Chain(Chain::default())),
    );
    let stop = sim.run_until(START.saturating_add(Duration::from_secs(600)), |_| false);
    assert_eq!(stop, StopReason::Idle, "the gateway's timers run out");
    sim
}

#[test]
fn gateway_node_seals_what_the_writer_driven_by_hand_seals() {
    let sim = run(1);
    let Some(Node::Gateway(g)) = sim.node(0) else {
        panic!("gateway missing")
    };
    assert!(g.host.errors.is_empty(), "{:?}", g.host.errors);
    assert_eq!(g.host.recorded(), READINGS);
    let (blocks, anchors) = by_hand();
    assert!(
        blocks.len() >= 20 && anchors.len() >= 10,
        "{} {}",
        blocks.len(),
        anchors.len()
    );
    assert_eq!(g.host.blocks, blocks);
    assert_eq!(g.host.anchors, anchors);
    assert_eq!(
        g.machine.next_deadline(),
        None,
        "everything sealed and anchored"
    );
    // One observation per anchor sent.
    let submitted = sim
        .observations()
        .iter()
        .filter(|o| o.node == 0 && o.event == StorageEvent::AnchorSubmitted)
        .count();
    assert_eq!(submitted, anchors.len());
}

#[test]
fn gateway_anchors_reach_every_chain_node_and_verify_the_blocks() {
    let sim = run(2);
    let Some(Node::Gateway(g)) = sim.node(0) else {
        panic!("gateway missing")
    };
    for id in [1, 2] {
        let Some(Node::Chain(c)) = sim.node(id) else {
            panic!("chain node missing")
        };
        let heard: Vec<Anchor> = c.txs.iter().map(|t| encoding::decode(t).unwrap()).collect();
        assert_eq!(
            heard, g.host.anchors,
            "node {id}: every anchor, in order, once"
        );
        for a in &heard {
            a.verify(&device().public_key()).unwrap();
        }
    }
    let verifier = ChainVerifier::new(STREAM, device().public_key(), schedule());
    let keys = cpchain_storage::NoKeys;
    let summary = verify_chain(verifier, &g.host.anchors, &g.host.blocks, &keys).unwrap();
    assert_eq!(
        summary.anchored,
        g.host.anchors.last().map(|a| a.last_index)
    );
}
