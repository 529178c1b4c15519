//! The sharing adapters (feature `pre`): an owner, three proxies (2-of-3) and a grantee as
//! [`cpchain_sim::MachineNode`]s on the simulated network. The grantee opens the granted
//! interval with a proxy down, keeps asking through a lossy network until it can, and a
//! revoked grant is refused by every proxy.
#![cfg(feature = "pre")]

use cpchain_core::{Duration, Timestamp};
use cpchain_crypto::pre::PreSecretKey;
use cpchain_crypto::SecretKey;
use cpchain_sim::sharing::{
    Directory, GrantPlan, GranteeHost, GranteeNode, OwnerCommand, OwnerHost, OwnerNode, ProxyHost,
    ProxyNode, SharingEvent, SharingMsg,
};
use cpchain_sim::{
    Context, FaultKind, FaultPlan, FaultWindow, LinkProfile, MachineNode, NodeId, SimNode,
    Simulator, Topology, Weather,
};
use cpchain_storage::sharing::{
    Grantee, GranteeConfig, Owner, OwnerConfig, Proxy, ProxyConfig, SharingError,
};
use cpchain_storage::{MasterSecret, StreamId};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::rc::Rc;

const START: Timestamp = Timestamp(1_700_000_000_000);
const STREAM: StreamId = StreamId([0x55; 32]);
const INTERVAL: u64 = 7;
const GRANTEE: NodeId = 4;

fn master() -> MasterSecret {
    MasterSecret::from_bytes([0x22; 32])
}

#[allow(clippy::large_enum_variant)]
enum Node {
    Owner(OwnerNode),
    Proxy(ProxyNode),
    Grantee(GranteeNode),
}

type Ctx = Context<SharingMsg, (), SharingEvent>;

macro_rules! each {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            Node::Owner($n) => $e,
            Node::Proxy($n) => $e,
            Node::Grantee($n) => $e,
        }
    };
}

impl SimNode for Node {
    type Message = SharingMsg;
    type Persisted = ();
    type Observation = SharingEvent;
    fn on_start(&mut self, now: Timestamp, ctx: &mut Ctx) {
        each!(self, n => n.on_start(now, ctx))
    }
    fn on_message(&mut self, now: Timestamp, from: NodeId, msg: SharingMsg, ctx: &mut Ctx) {
        each!(self, n => n.on_message(now, from, msg, ctx))
    }
    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Ctx) {
        each!(self, n => n.on_timeout(now, ctx))
    }
    fn next_deadline(&self) -> Option<Timestamp> {
        each!(self, n => n.next_deadline())
    }
}

fn proxy_node(i: u64) -> Node {
    let key = SecretKey::from_bytes(&[0x60 + i as u8; 32]).unwrap();
    Node::Proxy(MachineNode::new(
        Proxy::new(key, ProxyConfig::default()),
        ProxyHost::new(ChaCha20Rng::seed_from_u64(100 + i)),
    ))
}

/// Owner (0), proxies (1–3), grantee (4); the owner grants `INTERVAL` 2-of-3 at `START`
/// and runs `more` afterwards.
fn network(
    seed: u64,
    request_timeout: Duration,
    more: Vec<(Timestamp, OwnerCommand)>,
    links: LinkProfile,
    plan: FaultPlan,
) -> Simulator<Node> {
    let owner_key = SecretKey::from_bytes(&[0x44; 32]).unwrap();
    let mut owner =
        Owner::new(owner_key.clone(), master(), STREAM, OwnerConfig::default()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let wrapped = owner.wrap_interval_key(&mut rng, INTERVAL).unwrap();
    let (gk, _) = PreSecretKey::random(&mut rng).unwrap();
    let grantee = Grantee::new(
        gk.clone(),
        GranteeConfig {
            request_timeout,
            ..GranteeConfig::default()
        },
    );
    let mut nodes = vec![];
    let mut dir = Directory::default();
    dir.addresses.push(owner_key.public_key().address());
    let proxies: Vec<Node> = (1..=3).map(proxy_node).collect();
    for p in &proxies {
        if let Node::Proxy(p) = p {
            dir.addresses.push(p.machine.address());
        }
    }
    dir.addresses.push(
        SecretKey::from_bytes(&[0x77; 32])
            .unwrap()
            .public_key()
            .address(),
    );
    let dir = Rc::new(dir);
    let mut script = vec![(
        START,
        OwnerCommand::Grant(GrantPlan {
            first_interval: INTERVAL,
            last_interval: INTERVAL,
            grantee: gk.public_key(),
            threshold: 2,
            proxies: dir.addresses[1..=3].to_vec(),
            expires_at: START.saturating_add(Duration::from_days(1)),
        }),
    )];
    script.extend(more);
    nodes.push(Node::Owner(MachineNode::new(
        owner,
        OwnerHost::new(dir.clone(), rng.clone(), script, vec![GRANTEE]),
    )));
    nodes.extend(proxies);
    nodes.push(Node::Grantee(MachineNode::new(
        grantee,
        GranteeHost::new(dir, vec![(INTERVAL, wrapped)]),
    )));
    Simulator::new(
        seed,
        START,
        nodes,
        Topology::uniform(5, links),
        plan,
        // A restarted proxy comes back empty (no persisted kfrags in this simulation).
        Box::new(|id, _| proxy_node(id as u64)),
    )
}

fn ready(sim: &Simulator<Node>) -> bool {
    matches!(sim.node(GRANTEE), Some(Node::Grantee(g)) if !g.host.ready.is_empty())
}

fn count(sim: &Simulator<Node>, f: impl Fn(&SharingEvent) -> bool) -> usize {
    sim.observations().iter().filter(|o| f(&o.event)).count()
}

#[test]
fn grantee_opens_the_granted_interval_with_one_of_three_proxies_down() {
    let plan = FaultPlan {
        windows: vec![FaultWindow {
            start: START,
            end: START.saturating_add(Duration::from_secs(3600)),
            kind: FaultKind::Crash { node: 3 },
        }],
        clocks: vec![],
    };
    let mut sim = network(
        1,
        Duration::from_secs(30),
        vec![],
        LinkProfile::reliable(40),
        plan,
    );
    sim.run_until(START.saturating_add(Duration::from_secs(60)), ready);
    let Some(Node::Grantee(g)) = sim.node(GRANTEE) else {
        panic!("grantee missing")
    };
    let (grant, interval) = *g.host.ready.first().expect("ready");
    assert_eq!(interval, INTERVAL);
    let key = g.machine.open(&grant, INTERVAL).unwrap();
    assert_eq!(key.id(), master().interval_key(&STREAM, INTERVAL).id());
    assert_eq!(count(&sim, |e| matches!(e, SharingEvent::Accepted(_))), 2);
    assert_eq!(count(&sim, |e| matches!(e, SharingEvent::Served(_))), 2);
    assert_eq!(count(&sim, |e| matches!(e, SharingEvent::Fault(_))), 0);
}

#[test]
fn over_a_lossy_network_the_grantee_asks_again_until_it_can_open() {
    let lossy = |seed: u64| {
        let plan = FaultPlan {
            // From just after the grant and its kfrags arrived (at +40 ms; the owner sends
            // them once, and a lost delivery is the owner host's to resend, not the
            // grantee's): requests and replies are lost, duplicated and reordered for 20 s.
            windows: vec![FaultWindow {
                start: START.saturating_add(Duration(41)),
                end: START.saturating_add(Duration::from_secs(20)),
                kind: FaultKind::Weather(Weather {
                    loss_per_mille: 600,
                    duplicate_per_mille: 100,
                    extra_delay_ms: 200,
                }),
            }],
            clocks: vec![],
        };
        let mut sim = network(
            seed,
            Duration::from_secs(2),
            vec![],
            LinkProfile::reliable(40),
            plan,
        );
        sim.run_until(START.saturating_add(Duration::from_secs(120)), ready);
        let events: Vec<String> = sim
            .observations()
            .iter()
            .map(|o| format!("{} {} {:?}", o.at.0, o.node, o.event))
            .collect();
        (
            ready(&sim),
            count(&sim, |e| matches!(e, SharingEvent::Expired(..))),
            events,
        )
    };
    let mut retried = 0;
    for seed in 0..12 {
        let (ok, expired, events) = lossy(seed);
        assert!(ok, "seed {seed}: not ready: {events:#?}");
        retried += usize::from(expired > 0 && ok);
        assert_eq!(lossy(seed).2, events, "seed {seed}: same seed, same run");
    }
    assert!(
        retried > 0,
        "no seed needed a second request: the loss is not exercised"
    );
}

#[test]
fn a_revoked_grant_is_refused_by_every_proxy() {
    let revoke = vec![(START.saturating_add(Duration(1)), OwnerCommand::Revoke(0))];
    let mut sim = network(
        3,
        Duration::from_secs(30),
        revoke,
        LinkProfile::reliable(50),
        FaultPlan::none(),
    );
    sim.run_until(START.saturating_add(Duration::from_secs(60)), |_| false);
    assert!(!ready(&sim));
    assert_eq!(count(&sim, |e| matches!(e, SharingEvent::Dropped(_))), 3);
    // Every request (the first, and each retry after it expired) refused by every proxy.
    let refused = count(&sim, |e| matches!(e, SharingEvent::Refused(..)));
    let not_live = count(&sim, |e| {
        matches!(e, SharingEvent::Refused(_, SharingError::GrantNotLive))
    });
    let expired = count(&sim, |e| matches!(e, SharingEvent::Expired(..)));
    assert!(
        refused >= 3 && refused == not_live,
        "{:#?}",
        sim.observations()
    );
    assert_eq!(refused, 3 * (expired + 1), "three refusals per request");
    assert_eq!(count(&sim, |e| matches!(e, SharingEvent::Served(_))), 0);
}
