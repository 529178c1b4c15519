//! The simulator core, exercised with a toy node.

use super::*;
use alloc::boxed::Box;
use alloc::vec::Vec;
use cpchain_core::{Duration, Timestamp};

/// A toy replica: pings every peer each `period` ms with a sequence number, keeps a
/// durable counter of its own pings and a volatile count of pings received.
#[derive(Debug)]
struct Toy {
    id: NodeId,
    sent: u64,
    received: u64,
    next: Timestamp,
    period: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Obs {
    Got { from: NodeId, seq: u64 },
    Started { sent: u64 },
    Tick,
}

impl SimNode for Toy {
    type Message = u64;
    type Persisted = u64;
    type Observation = Obs;

    fn on_start(&mut self, now: Timestamp, ctx: &mut Context<u64, u64, Obs>) {
        self.next = now;
        ctx.observe(Obs::Started { sent: self.sent });
    }

    fn on_message(
        &mut self,
        _: Timestamp,
        from: NodeId,
        seq: u64,
        ctx: &mut Context<u64, u64, Obs>,
    ) {
        self.received += 1;
        ctx.observe(Obs::Got { from, seq });
    }

    fn on_timeout(&mut self, now: Timestamp, ctx: &mut Context<u64, u64, Obs>) {
        self.sent += 1;
        // Persist before the send that depends on it.
        ctx.persist(self.sent);
        ctx.broadcast(self.sent);
        ctx.observe(Obs::Tick);
        self.next = now + Duration(self.period);
        let _ = self.id;
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Some(self.next)
    }
}

fn toy(id: NodeId) -> Toy {
    Toy {
        id,
        sent: 0,
        received: 0,
        next: Timestamp(0),
        period: 100,
    }
}

fn restart() -> Restart<Toy> {
    Box::new(|id, disk: &[u64]| Toy {
        sent: disk.last().copied().unwrap_or(0),
        ..toy(id)
    })
}

fn sim(seed: u64, n: usize, topo: Topology, plan: FaultPlan) -> Simulator<Toy> {
    Simulator::new(
        seed,
        Timestamp(1_000),
        (0..n).map(toy).collect(),
        topo,
        plan,
        restart(),
    )
}

fn fingerprint(s: &Simulator<Toy>) -> Vec<(u64, u64, NodeId, Obs)> {
    s.observations()
        .iter()
        .map(|o| (o.at.0, o.local.0, o.node, o.event.clone()))
        .collect()
}

fn stormy(n: usize, rng: &mut SimRng) -> FaultPlan {
    let mut nem = Nemesis::quiet(n, Duration(3_000));
    nem.weather = true;
    nem.partitions = true;
    nem.crashes = true;
    nem.clocks = true;
    nem.plan(n, Timestamp(1_000), rng)
}

#[test]
fn same_seed_same_run_different_seed_different_run() {
    use rand_core::SeedableRng;
    let run = |seed| {
        let mut rng = SimRng::seed_from_u64(seed);
        let topo = Topology::random(5, 1, 80, &mut rng);
        let plan = stormy(5, &mut rng);
        let mut s = sim(seed, 5, topo, plan);
        s.run_until(Timestamp(6_000), |_| false);
        (fingerprint(&s), s.stats())
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11).0, run(12).0);
}

#[test]
fn ties_break_in_send_order() {
    // Constant latency: node 0's ticks reach node 1 in the order sent, and the
    // simultaneous starts run in index order.
    let mut s = sim(
        1,
        2,
        Topology::uniform(2, LinkProfile::reliable(10)),
        FaultPlan::none(),
    );
    s.run_until(Timestamp(1_450), |_| false);
    let got: Vec<u64> = s
        .observations()
        .iter()
        .filter_map(|o| match o.event {
            Obs::Got { from: 0, seq } if o.node == 1 => Some(seq),
            _ => None,
        })
        .collect();
    assert_eq!(got, (1..=5).collect::<Vec<_>>());
    let starts: Vec<NodeId> = s
        .observations()
        .iter()
        .filter(|o| matches!(o.event, Obs::Started { .. }))
        .map(|o| o.node)
        .collect();
    assert_eq!(starts, alloc::vec![0, 1]);
}

#[test]
fn crash_loses_volatile_state_and_restart_reads_the_disk() {
    let plan = FaultPlan {
        windows: alloc::vec![FaultWindow {
            start: Timestamp(1_550),
            end: Timestamp(2_050),
            kind: FaultKind::Crash { node: 1 },
        }],
        clocks: Vec::new(),
    };
    let mut s = sim(3, 3, Topology::uniform(3, LinkProfile::reliable(5)), plan);
    s.run_until(Timestamp(1_560), |_| false);
    assert!(s.node(1).is_none(), "node 1 is down inside its window");
    s.run_until(Timestamp(2_060), |_| false);
    let Some(n1) = s.node(1) else {
        panic!("node 1 is back after its window")
    };
    // Received pings were volatile: only the ones since the restart count.
    assert!(n1.received <= 4, "{}", n1.received);
    // Its own counter came back from disk: 6 ticks before the crash (1000..=1500).
    let restarted = s
        .observations()
        .iter()
        .filter(|o| o.node == 1)
        .filter_map(|o| match o.event {
            Obs::Started { sent } => Some(sent),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(restarted, alloc::vec![0, 6]);
    assert_eq!(s.stats().crashes, 1);
    assert_eq!(s.stats().restarts, 1);
    assert!(s.stats().to_crashed > 0);
    // No message from node 1 while it was down.
    assert!(!s
        .observations()
        .iter()
        .any(|o| matches!(o.event, Obs::Got { from: 1, .. })
            && o.at > Timestamp(1_560)
            && o.at < Timestamp(2_050)));
}

#[test]
fn symmetric_partition_cuts_both_ways_and_heals() {
    let plan = FaultPlan {
        windows: alloc::vec![FaultWindow {
            start: Timestamp(1_200),
            end: Timestamp(2_000),
            kind: FaultKind::Partition {
                side: alloc::vec![true, false, false],
            },
        }],
        clocks: Vec::new(),
    };
    let mut s = sim(4, 3, Topology::uniform(3, LinkProfile::reliable(5)), plan);
    s.run_until(Timestamp(3_000), |_| false);
    let across = |o: &Observed<Obs>| match o.event {
        Obs::Got { from, .. } => (from == 0) != (o.node == 0),
        _ => false,
    };
    let during = s
        .observations()
        .iter()
        .filter(|o| across(o) && o.at >= Timestamp(1_200) && o.at < Timestamp(2_000))
        .count();
    let after = s
        .observations()
        .iter()
        .filter(|o| across(o) && o.at >= Timestamp(2_000))
        .count();
    assert_eq!(during, 0);
    assert!(after > 0);
    assert!(s.stats().partitioned > 0);
    assert_eq!(s.plan().heals_at(s.origin()), Timestamp(2_000));
}

#[test]
fn one_way_partition_cuts_one_direction() {
    let plan = FaultPlan {
        windows: alloc::vec![FaultWindow {
            start: Timestamp(1_000),
            end: Timestamp(5_000),
            kind: FaultKind::OneWay {
                from: alloc::vec![true, false],
                to: alloc::vec![false, true],
            },
        }],
        clocks: Vec::new(),
    };
    let mut s = sim(5, 2, Topology::uniform(2, LinkProfile::reliable(5)), plan);
    s.run_until(Timestamp(2_000), |_| false);
    let got = |node| {
        s.observations()
            .iter()
            .filter(|o| o.node == node && matches!(o.event, Obs::Got { .. }))
            .count()
    };
    assert_eq!(got(1), 0);
    assert!(got(0) > 0);
}

#[test]
fn weather_loses_and_duplicates() {
    let plan = FaultPlan {
        windows: alloc::vec![FaultWindow {
            start: Timestamp(1_000),
            end: Timestamp(11_000),
            kind: FaultKind::Weather(Weather {
                loss_per_mille: 300,
                duplicate_per_mille: 300,
                extra_delay_ms: 250,
            }),
        }],
        clocks: Vec::new(),
    };
    let mut s = sim(6, 4, Topology::uniform(4, LinkProfile::reliable(5)), plan);
    s.run_until(Timestamp(11_000), |_| false);
    let st = s.stats();
    assert!(st.lost > st.sent / 5 && st.lost < st.sent * 2 / 5, "{st:?}");
    assert!(st.duplicated > 0);
    // Extra delay reorders: some ping from node 0 to node 1 overtakes an earlier one.
    let seqs: Vec<u64> = s
        .observations()
        .iter()
        .filter_map(|o| match o.event {
            Obs::Got { from: 0, seq } if o.node == 1 => Some(seq),
            _ => None,
        })
        .collect();
    assert!(seqs.windows(2).any(|w| w[1] < w[0]));
}

#[test]
fn timers_fire_on_the_local_clock() {
    // Node 0 runs 10 % fast: its 100 ms period is ~91 ms of global time.
    let plan = FaultPlan {
        windows: Vec::new(),
        clocks: alloc::vec![
            NodeClock {
                skew_ms: 0,
                drift_ppm: 100_000,
                origin: Timestamp(1_000)
            },
            NodeClock::exact(Timestamp(1_000)),
        ],
    };
    let mut s = sim(7, 2, Topology::uniform(2, LinkProfile::reliable(5)), plan);
    s.run_until(Timestamp(11_000), |_| false);
    let ticks = |node| {
        s.observations()
            .iter()
            .filter(|o| o.node == node && o.event == Obs::Tick)
            .count()
    };
    assert_eq!(ticks(1), 101);
    // 11 000 local ms pass; integer rounding of the fast clock may lose the last tick.
    assert!((110..=111).contains(&ticks(0)), "{}", ticks(0));
    for o in s.observations().iter().filter(|o| o.node == 0) {
        assert_eq!(s.clock(0).map(|c| c.local(o.at)), Some(o.local));
    }
}

#[test]
fn run_until_condition_budget_and_idle() {
    let mut s = sim(
        8,
        3,
        Topology::uniform(3, LinkProfile::reliable(5)),
        FaultPlan::none(),
    );
    let r = s.run_until(Timestamp(100_000), |s| s.observations().len() >= 20);
    assert_eq!(r, StopReason::Condition);
    assert_eq!(s.observations().len(), 20);
    let mut s = sim(
        8,
        3,
        Topology::uniform(3, LinkProfile::reliable(5)),
        FaultPlan::none(),
    )
    .with_event_budget(50);
    assert_eq!(
        s.run_until(Timestamp(100_000), |_| false),
        StopReason::EventBudget
    );
    assert_eq!(s.stats().events, 50);

    struct Silent;
    impl SimNode for Silent {
        type Message = ();
        type Persisted = ();
        type Observation = ();
        fn on_message(&mut self, _: Timestamp, _: NodeId, _: (), _: &mut Context<(), (), ()>) {}
        fn on_timeout(&mut self, _: Timestamp, _: &mut Context<(), (), ()>) {}
        fn next_deadline(&self) -> Option<Timestamp> {
            None
        }
    }
    let mut s = Simulator::new(
        0,
        Timestamp(0),
        alloc::vec![Silent, Silent],
        Topology::uniform(2, LinkProfile::reliable(1)),
        FaultPlan::none(),
        Box::new(|_, _| Silent),
    );
    assert_eq!(s.run_until(Timestamp(10), |_| false), StopReason::Idle);
}

#[test]
fn trace_keeps_the_tail() {
    let mut s = sim(
        9,
        2,
        Topology::uniform(2, LinkProfile::reliable(5)),
        FaultPlan::none(),
    )
    .with_trace(8);
    s.run_until(Timestamp(2_000), |_| false);
    let t = s.trace();
    assert_eq!(t.len(), 8);
    assert!(t
        .iter()
        .any(|l| l.contains("n0->n1") || l.contains("n1->n0")));
}
