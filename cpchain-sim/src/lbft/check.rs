//! The checkers, run on every simulated run over what the nodes reported.

use super::shared::{Event, FaultClass, Shared};
use crate::{NodeId, Observed};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cpchain_consensus::lbft::{BlockId, Phase};
use cpchain_core::{Address, Height, Timestamp};

/// One broken property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which checker: `agreement`, `validity`, `honest-equivocation`, `liveness`,
    /// `detection`, `false-accusation`.
    pub checker: &'static str,
    /// What exactly.
    pub detail: String,
}

/// Figures of one run for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Heights decided (the highest height any honest node committed).
    pub heights: u64,
    /// Of which impeach blocks.
    pub impeachments: u64,
    /// Distinct Byzantine equivocations (votes and double seals).
    pub equivocations: u64,
    /// Distinct equivocations reported as a `Fault` by at least one honest node.
    pub detected: u64,
    /// All `Fault` outputs of honest nodes.
    pub faults: u64,
    /// Longest time from a height's proposal (or, without one, its parent's decision)
    /// to its first honest decision, in ms.
    pub longest_commit_ms: u64,
}

/// Run every safety checker over the observations; `honest[i]` says whether node `i`
/// is honest (validators and light nodes).
pub fn check_safety(
    shared: &Shared,
    obs: &[Observed<Event>],
    honest: &[bool],
) -> (Vec<Violation>, Figures) {
    let mut v = Vec::new();
    let mut fig = Figures::default();
    let is_honest = |n: NodeId| honest.get(n).copied().unwrap_or(false);
    let name = |n: NodeId| {
        if n < shared.n_validators {
            format!("validator {n}")
        } else {
            format!("light node {n}")
        }
    };
    // Agreement and validity.
    let mut decided: BTreeMap<u64, (BlockId, bool, NodeId)> = BTreeMap::new();
    let mut first_commit: BTreeMap<u64, Timestamp> = BTreeMap::new();
    let mut proposed: BTreeMap<u64, Timestamp> = BTreeMap::new();
    let mut forks = 0;
    // Honest equivocation.
    let mut signed: BTreeMap<(NodeId, u64, u32, Phase), BlockId> = BTreeMap::new();
    // Detection.
    let mut equivocated: BTreeSet<(NodeId, u64, u32, Option<Phase>)> = BTreeSet::new();
    let mut reported: BTreeSet<(Address, u64, u32, Option<Phase>)> = BTreeSet::new();
    for o in obs {
        match &o.event {
            Event::Committed {
                height,
                block,
                impeach,
                round,
                certified,
            } if is_honest(o.node) => {
                if !certified {
                    v.push(Violation {
                        checker: "validity",
                        detail: format!(
                            "{} committed h{} {:?} (round {round}) without a valid certificate on its parent",
                            name(o.node), height.0, block
                        ),
                    });
                }
                first_commit.entry(height.0).or_insert(o.at);
                match decided.get(&height.0) {
                    None => {
                        decided.insert(height.0, (*block, *impeach, o.node));
                        fig.heights = fig.heights.max(height.0);
                        if *impeach {
                            fig.impeachments += 1;
                        }
                    }
                    Some((b, imp, n)) if b != block => {
                        forks += 1;
                        if forks <= 3 {
                            v.push(Violation {
                                checker: "agreement",
                                detail: format!(
                                    "FORK at height {}: {} committed {:?}{} but {} committed {:?}{}",
                                    height.0,
                                    name(*n),
                                    b,
                                    if *imp { " (impeach block)" } else { " (normal block)" },
                                    name(o.node),
                                    block,
                                    if *impeach { " (impeach block)" } else { " (normal block)" },
                                ),
                            });
                        }
                    }
                    Some(_) => {}
                }
            }
            Event::Proposed { height } => {
                proposed.entry(height.0).or_insert(o.at);
            }
            Event::Signed {
                height,
                round,
                phase,
                block,
            } if is_honest(o.node) => {
                let key = (o.node, height.0, *round, *phase);
                match signed.get(&key) {
                    Some(b) if b != block => v.push(Violation {
                        checker: "honest-equivocation",
                        detail: format!(
                            "honest {} signed two {phase:?}-phase votes at h{} r{round}: {b:?} and {block:?}",
                            name(o.node), height.0
                        ),
                    }),
                    Some(_) => {}
                    None => {
                        signed.insert(key, *block);
                    }
                }
            }
            Event::Fault {
                class,
                culprit,
                height,
                round,
                phase,
            } if is_honest(o.node) => {
                fig.faults += 1;
                if let Some(c) = culprit {
                    let accused = shared.node_of(c);
                    if accused.is_some_and(is_honest) {
                        v.push(Violation {
                            checker: "false-accusation",
                            detail: format!(
                                "{} reported {class:?} at h{} r{round} against honest validator {:?}",
                                name(o.node),
                                height.0,
                                accused
                            ),
                        });
                    }
                    if matches!(
                        class,
                        FaultClass::Equivocation | FaultClass::ProposerEquivocation
                    ) {
                        reported.insert((*c, height.0, *round, *phase));
                    }
                }
            }
            Event::OverBudget { held, bound } if is_honest(o.node) => v.push(Violation {
                checker: "memory",
                detail: format!(
                    "{} holds {held} bytes on behalf of peers, over its bound of {bound}",
                    name(o.node)
                ),
            }),
            Event::MissedDetection {
                culprit,
                height,
                round,
            } if is_honest(o.node) => v.push(Violation {
                checker: "detection",
                detail: format!(
                    "{} was handed an equivocation by {culprit} at h{} r{round} and reported no fault",
                    name(o.node),
                    height.0
                ),
            }),
            Event::Equivocated {
                height,
                round,
                phase,
            } => {
                equivocated.insert((o.node, height.0, *round, *phase));
            }
            _ => {}
        }
    }
    if forks > 3 {
        v.push(Violation {
            checker: "agreement",
            detail: format!("... {} more conflicting commits", forks - 3),
        });
    }
    fig.equivocations = equivocated.len() as u64;
    fig.detected = equivocated
        .iter()
        .filter(|(n, h, r, p)| reported.contains(&(shared.address(*n), *h, *r, *p)))
        .count() as u64;
    for (h, at) in &first_commit {
        let start = proposed
            .get(h)
            .copied()
            .or_else(|| h.checked_sub(1).and_then(|p| first_commit.get(&p).copied()));
        if let Some(s) = start {
            fig.longest_commit_ms = fig.longest_commit_ms.max(at.0.saturating_sub(s.0));
        }
    }
    (v, fig)
}

/// The liveness verdict: every honest node must have committed `target` by `deadline`.
pub fn check_liveness(
    heights: &[(NodeId, Option<Height>)],
    target: u64,
    deadline: Timestamp,
    heal: Timestamp,
    bound_note: &str,
) -> Vec<Violation> {
    let lagging: Vec<String> = heights
        .iter()
        .filter(|(_, h)| h.is_none_or(|h| h.0 < target))
        .map(|(n, h)| match h {
            Some(h) => format!("node {n} at h{}", h.0),
            None => format!("node {n} down"),
        })
        .collect();
    if lagging.is_empty() {
        return Vec::new();
    }
    alloc::vec![Violation {
        checker: "liveness",
        detail: format!(
            "not every honest node reached h{target} by {deadline} (last fault healed at {heal}; bound {bound_note}): {}",
            lagging.join(", ")
        ),
    }]
}
