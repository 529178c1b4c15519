//! The validator's DDoS whitelist of white paper §2.6.3, as a sans-IO state machine.
//!
//! Inputs: load samples `handle_load(now, utilisation‰)` from the host's resource monitor,
//! `handle_timeout(now)` when the host's timer fires, and the manual commands
//! [`Whitelist::activate`] / [`Whitelist::deactivate`]. Outputs: [`Whitelist::admits`]
//! answers per peer, and [`WhitelistOutput`]s drained with [`Whitelist::poll_output`] tell the
//! host to switch its firewall rule; [`Whitelist::next_deadline`] is when to call
//! `handle_timeout`. It keeps the SDK's one machine contract ([`cpchain_core::machine`]):
//! it takes no peer input, so its [`WhitelistStats`] never count a dropped one; `Err` is for
//! the host's own mistakes (a bad config, a sample above 1000 ‰).
//!
//! # Rules (§2.6.3 steps 3 and 4)
//! * **Activate** when every sample for at least `activate_after` has been at or above
//!   `high_permille` ("under high performance for a long time"). One sample below resets the
//!   run.
//! * While active only default proposers are admitted.
//! * **Lift** (i) when every sample for `quiet_period` has been below `high_permille`,
//!   (ii) when it has been active for `max_active`, or (iii) on a manual command.
//! * After a lift for the maximum duration, a new activation needs a fresh full run of high
//!   load counted from the lift, so the filter cannot stay on forever under a permanent
//!   overload that is not an attack.
//!
//! Time going backwards (a sample older than the last) is treated as no time passing.
//! Events are buffered up to [`EVENT_CAPACITY`]; further ones are dropped and counted
//! ([`WhitelistStats::dropped_events`]).

use super::error::WhitelistError;
use alloc::collections::{BTreeSet, VecDeque};
use cpchain_core::machine::{Machine, MachineStats};
use cpchain_core::{Address, Duration, Timestamp};
use serde::{Deserialize, Serialize};

/// Events held between two `poll_output` drains.
pub const EVENT_CAPACITY: usize = 16;

/// Thresholds of the filter. The paper gives none; the defaults are the SDK's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistConfig {
    /// Utilisation (‰) at or above which a sample counts as high load.
    pub high_permille: u16,
    /// How long load must stay high before the filter activates.
    pub activate_after: Duration,
    /// How long load must stay below the threshold before the filter lifts.
    pub quiet_period: Duration,
    /// Longest the filter stays on in one activation.
    pub max_active: Duration,
    /// Most default proposers the filter holds.
    pub capacity: usize,
}

impl Default for WhitelistConfig {
    /// 90 % for a minute activates; five quiet minutes or one hour lifts.
    fn default() -> Self {
        WhitelistConfig {
            high_permille: 900,
            activate_after: Duration::from_mins(1),
            quiet_period: Duration::from_mins(5),
            max_active: Duration::from_mins(60),
            capacity: 64,
        }
    }
}

/// Why the whitelist was lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LiftReason {
    /// No high load for the quiet period (§2.6.3 4.i).
    Quiet,
    /// Active for the maximum duration (4.ii).
    MaxDuration,
    /// Manual command (4.iii).
    Manual,
}

/// What the host must do with its firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WhitelistOutput {
    /// Reject every peer but the default proposers from now on.
    Activated {
        /// When.
        at: Timestamp,
    },
    /// Admit everyone again.
    Lifted {
        /// When.
        at: Timestamp,
        /// Why.
        reason: LiftReason,
    },
}

/// The filter's counters ([`Machine::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WhitelistStats {
    /// Times the filter was switched on.
    pub activations: u64,
    /// Times it was lifted, for any reason.
    pub lifts: u64,
    /// Events dropped because the host did not drain them (a local limit, not peer input).
    pub dropped_events: u64,
}

impl MachineStats for WhitelistStats {
    /// Always 0: the filter takes no peer input.
    fn dropped(&self) -> u64 {
        0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Off; `high_since` starts the current run of high samples.
    Inactive { high_since: Option<Timestamp> },
    /// On since `since`; `quiet_since` starts the current run of low samples.
    Active {
        since: Timestamp,
        quiet_since: Option<Timestamp>,
    },
}

/// The admission filter.
#[derive(Debug, Clone)]
pub struct Whitelist {
    config: WhitelistConfig,
    allowed: BTreeSet<Address>,
    state: State,
    last: Timestamp,
    events: VecDeque<WhitelistOutput>,
    stats: WhitelistStats,
}

impl Whitelist {
    /// A filter, initially off, admitting `default_proposers` when on.
    pub fn new(
        config: WhitelistConfig,
        default_proposers: &[Address],
    ) -> Result<Self, WhitelistError> {
        if config.high_permille == 0 || config.high_permille > 1000 {
            return Err(WhitelistError::Config("high_permille must be in 1..=1000"));
        }
        if config.quiet_period == Duration::ZERO || config.max_active == Duration::ZERO {
            return Err(WhitelistError::Config("durations must be positive"));
        }
        if default_proposers.len() > config.capacity {
            return Err(WhitelistError::Full(config.capacity));
        }
        Ok(Whitelist {
            config,
            allowed: default_proposers.iter().copied().collect(),
            state: State::Inactive { high_since: None },
            last: Timestamp(0),
            events: VecDeque::with_capacity(EVENT_CAPACITY),
            stats: WhitelistStats::default(),
        })
    }

    /// Whether the filter is on.
    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    /// Whether a connection or message from `peer` passes the filter.
    pub fn admits(&self, peer: &Address) -> bool {
        !self.is_active() || self.allowed.contains(peer)
    }

    /// Monotone view of time: an older `now` counts as the last one seen.
    fn clock(&mut self, now: Timestamp) -> Timestamp {
        self.last = self.last.max(now);
        self.last
    }

    fn emit(&mut self, e: WhitelistOutput) {
        match e {
            WhitelistOutput::Activated { .. } => {
                self.stats.activations = self.stats.activations.saturating_add(1);
            }
            WhitelistOutput::Lifted { .. } => {
                self.stats.lifts = self.stats.lifts.saturating_add(1);
            }
        }
        if self.events.len() >= EVENT_CAPACITY {
            self.stats.dropped_events = self.stats.dropped_events.saturating_add(1);
        } else {
            self.events.push_back(e);
        }
    }

    fn lift(&mut self, at: Timestamp, reason: LiftReason) {
        self.state = State::Inactive { high_since: None };
        self.emit(WhitelistOutput::Lifted { at, reason });
    }

    /// A load sample: utilisation in permille (0..=1000) at `now`.
    pub fn handle_load(&mut self, now: Timestamp, utilisation: u16) -> Result<(), WhitelistError> {
        if utilisation > 1000 {
            return Err(WhitelistError::Utilisation(utilisation));
        }
        let now = self.clock(now);
        let high = utilisation >= self.config.high_permille;
        self.check_max(now);
        match self.state {
            State::Inactive { high_since } => {
                if !high {
                    self.state = State::Inactive { high_since: None };
                    return Ok(());
                }
                let start = high_since.unwrap_or(now);
                if now.saturating_since(start) >= self.config.activate_after {
                    self.state = State::Active {
                        since: now,
                        quiet_since: None,
                    };
                    self.emit(WhitelistOutput::Activated { at: now });
                } else {
                    self.state = State::Inactive {
                        high_since: Some(start),
                    };
                }
            }
            State::Active { since, quiet_since } => {
                if high {
                    self.state = State::Active {
                        since,
                        quiet_since: None,
                    };
                    return Ok(());
                }
                let start = quiet_since.unwrap_or(now);
                if now.saturating_since(start) >= self.config.quiet_period {
                    self.lift(now, LiftReason::Quiet);
                } else {
                    self.state = State::Active {
                        since,
                        quiet_since: Some(start),
                    };
                }
            }
        }
        Ok(())
    }

    fn check_max(&mut self, now: Timestamp) {
        if let State::Active { since, .. } = self.state {
            if now.saturating_since(since) >= self.config.max_active {
                self.lift(now, LiftReason::MaxDuration);
            }
        }
    }

    /// The host's timer fired: enforces the maximum duration without waiting for a sample.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.clock(now);
        self.check_max(now);
    }

    /// Manual activation by the operator (for an attack the monitor has not seen yet).
    pub fn activate(&mut self, now: Timestamp) {
        let now = self.clock(now);
        if !self.is_active() {
            self.state = State::Active {
                since: now,
                quiet_since: None,
            };
            self.emit(WhitelistOutput::Activated { at: now });
        }
    }

    /// Manual deactivation (§2.6.3 4.iii); no event if already off.
    pub fn deactivate(&mut self, now: Timestamp) {
        let now = self.clock(now);
        if self.is_active() {
            self.lift(now, LiftReason::Manual);
        }
    }

    /// When the host must call [`Whitelist::handle_timeout`]: the maximum-duration lift.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        match self.state {
            State::Active { since, .. } => Some(since.saturating_add(self.config.max_active)),
            State::Inactive { .. } => None,
        }
    }

    /// The next event for the host, oldest first.
    pub fn poll_output(&mut self) -> Option<WhitelistOutput> {
        self.events.pop_front()
    }

    /// Events dropped because the host did not drain them.
    pub fn dropped_events(&self) -> u64 {
        self.stats.dropped_events
    }

    /// The filter's counters.
    pub fn stats(&self) -> WhitelistStats {
        self.stats
    }
}

/// The SDK's one machine contract ([`cpchain_core::machine`]); it calls the inherent
/// methods of the same names.
impl Machine for Whitelist {
    type Output<'a> = WhitelistOutput;
    type Stats = WhitelistStats;

    fn handle_timeout(&mut self, now: Timestamp) {
        Whitelist::handle_timeout(self, now);
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Whitelist::next_deadline(self)
    }

    fn poll_output(&mut self) -> Option<WhitelistOutput> {
        Whitelist::poll_output(self)
    }

    fn stats(&self) -> WhitelistStats {
        Whitelist::stats(self)
    }
}
