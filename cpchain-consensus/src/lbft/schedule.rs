//! Who proposes which height: an input to the engine. The DPoR module computes the real
//! schedule (elected proposer committees per term, §2.3); the engine only asks it.

use alloc::vec::Vec;
use cpchain_core::{Address, Height};

/// The proposer schedule: which proposer owns which height (§2.4.1, "each incumbent
/// member alternately assumes the responsibility to propose blocks").
pub trait ProposerSchedule {
    /// The proposer of `height`, or `None` if unknown (then only impeach blocks can be
    /// certified there).
    fn proposer_of(&self, height: Height) -> Option<Address>;
}

/// A fixed rotation: height `h` belongs to `proposers[(h - 1) mod len]`, the mainnet rule
/// inside one term. For tests, devnets and hosts without DPoR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedSchedule {
    proposers: Vec<Address>,
}

impl FixedSchedule {
    /// A rotation over `proposers` (empty means nobody may propose).
    pub fn new(proposers: Vec<Address>) -> Self {
        FixedSchedule { proposers }
    }
}

impl ProposerSchedule for FixedSchedule {
    fn proposer_of(&self, height: Height) -> Option<Address> {
        let len = u64::try_from(self.proposers.len()).ok()?;
        let slot = height.0.checked_sub(1)?.checked_rem(len)?;
        self.proposers.get(usize::try_from(slot).ok()?).copied()
    }
}

impl<S: ProposerSchedule + ?Sized> ProposerSchedule for &S {
    fn proposer_of(&self, height: Height) -> Option<Address> {
        (**self).proposer_of(height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn rotation_starts_at_height_one() {
        let s = FixedSchedule::new(vec![Address([1; 20]), Address([2; 20])]);
        assert_eq!(s.proposer_of(Height(0)), None);
        assert_eq!(s.proposer_of(Height(1)), Some(Address([1; 20])));
        assert_eq!(s.proposer_of(Height(2)), Some(Address([2; 20])));
        assert_eq!(s.proposer_of(Height(3)), Some(Address([1; 20])));
        assert_eq!(FixedSchedule::new(vec![]).proposer_of(Height(1)), None);
    }
}
