//! The future buffer: authenticated messages for later heights, replayed when their
//! height comes (see [`crate::lbft::budget`]).

use super::{Validator, Verdict};
use crate::lbft::budget::authenticate_future;
use crate::lbft::error::Rejected;
use crate::lbft::message::Message;
use crate::lbft::schedule::ProposerSchedule;
use cpchain_core::{Address, Timestamp};

impl<S: ProposerSchedule> Validator<S> {
    /// Keep a message for a later height: only if it authenticates (nothing from a sender
    /// that could not have sent it is kept) and fits its sender's quota and the buffer's
    /// byte budget (see [`crate::lbft::budget`]).
    pub(super) fn buffer(&mut self, from: Address, msg: Message) -> Result<(), Rejected> {
        let ahead = msg.height().0.saturating_sub(self.height.0);
        if ahead > self.cfg.future_heights {
            return Err(Rejected::TooFarAhead);
        }
        if self.future.len() >= self.cfg.future_buffer {
            return Err(Rejected::BufferFull);
        }
        let slot = authenticate_future(&self.cfg, &self.schedule, &mut self.stats, &msg)?;
        self.future.push(&self.cfg, from, slot, msg)
    }

    /// Count a dropped peer message by reason and give the host its verdict.
    pub(super) fn count_drop(&mut self, why: Rejected) -> Verdict {
        self.stats.dropped.add(why.drop_reason() as usize);
        Verdict::of(why)
    }

    /// Replay buffered messages that became current; stops when none is left for the
    /// (possibly advancing) current height.
    pub(super) fn drain_future(&mut self, now: Timestamp) {
        loop {
            let Some((from, msg)) = self.future.take(self.height) else {
                return;
            };
            if let Err(why) = self.dispatch(now, from, msg) {
                self.count_drop(why);
            }
        }
    }
}
