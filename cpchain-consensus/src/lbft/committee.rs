//! The validators committee (§2.4.1): a fixed set of `3f + 1` keys and its quorums.

use super::error::ConfigError;
use alloc::vec::Vec;
use cpchain_core::Address;
use cpchain_crypto::PublicKey;
use serde::{Deserialize, Serialize};

/// Most validators a committee may have; bounds certificate sizes on the wire.
pub const MAX_VALIDATORS: usize = 1024;

/// How many IMPEACH COMMIT (and IMPEACH PREPARE) signatures certify an impeach block.
///
/// The default is [`ImpeachQuorum::TwoFPlusOne`]. The paper's and mainnet's `f + 1` is
/// kept as an option that is safe **only if no validator is Byzantine** (crash faults):
/// one double-voting validator then lets a normal block and an impeach block both be
/// certified at one height (1 honest impeacher + f Byzantine = f + 1, while 2f honest + f
/// Byzantine ≥ 2f + 1). The test `fork_under_f_plus_one_impeach_quorum` reproduces it and
/// `no_fork_under_default_impeach_quorum` shows it cannot happen under the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ImpeachQuorum {
    /// `2f + 1`: impeach certificates intersect every other certificate in an honest
    /// validator, as normal ones do. Byzantine-safe.
    #[default]
    TwoFPlusOne,
    /// `f + 1`, as in the white paper and on mainnet. Crash-fault-only.
    FPlusOne,
}

/// The validators committee, sorted by address so that indices, certificates and tallies
/// are the same on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    members: Vec<(Address, PublicKey)>,
}

impl ValidatorSet {
    /// A committee from its members' public keys (any order; duplicates refused).
    pub fn new(keys: &[PublicKey]) -> Result<ValidatorSet, ConfigError> {
        if keys.len() > MAX_VALIDATORS {
            return Err(ConfigError::TooManyValidators);
        }
        let mut members: Vec<(Address, PublicKey)> =
            keys.iter().map(|k| (k.address(), *k)).collect();
        members.sort_by_key(|m| m.0);
        if members.windows(2).any(|w| match w {
            [a, b] => a.0 == b.0,
            _ => false,
        }) {
            return Err(ConfigError::DuplicateValidator);
        }
        Ok(ValidatorSet { members })
    }

    /// Number of validators `n`.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set is empty (never, for a validated config).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Byzantine validators tolerated: `f = (n - 1) / 3`.
    pub fn f(&self) -> usize {
        self.len().saturating_sub(1) / 3
    }

    /// `2f + 1`: size of a normal-case certificate.
    pub fn quorum(&self) -> usize {
        self.f().saturating_mul(2).saturating_add(1)
    }

    /// Size of an impeach certificate under `rule`.
    pub fn impeach_quorum(&self, rule: ImpeachQuorum) -> usize {
        match rule {
            ImpeachQuorum::TwoFPlusOne => self.quorum(),
            ImpeachQuorum::FPlusOne => self.f().saturating_add(1),
        }
    }

    /// Index of a member in address order.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        // Asked for every message. Up to this size a scan of inlined 20-byte equality
        // tests beats a binary search of ordered (memcmp) comparisons; members are
        // distinct, so both find the same index.
        const SCAN: usize = 16;
        if self.members.len() <= SCAN {
            return self.members.iter().position(|m| m.0 == *address);
        }
        self.members.binary_search_by(|m| m.0.cmp(address)).ok()
    }

    /// Public key of a member.
    pub fn key_of(&self, address: &Address) -> Option<&PublicKey> {
        self.index_of(address)
            .and_then(|i| self.members.get(i))
            .map(|m| &m.1)
    }

    /// Member at an index.
    pub fn address_at(&self, index: usize) -> Option<Address> {
        self.members.get(index).map(|m| m.0)
    }

    /// Members' addresses in order.
    pub fn addresses(&self) -> impl Iterator<Item = Address> + '_ {
        self.members.iter().map(|m| m.0)
    }

    /// Whether `address` is a member.
    pub fn contains(&self, address: &Address) -> bool {
        self.index_of(address).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use cpchain_crypto::SecretKey;

    #[test]
    fn quorums_for_3f_plus_1() {
        for (n, f, q, fq) in [
            (4, 1, 3, 2),
            (7, 2, 5, 3),
            (22, 7, 15, 8),
            (100, 33, 67, 34),
        ] {
            let keys: Vec<_> = (1..=n)
                .map(|i: u32| {
                    let mut b = [0u8; 32];
                    b[..4].copy_from_slice(&i.to_be_bytes());
                    SecretKey::from_bytes(&b).unwrap().public_key()
                })
                .collect();
            let set = ValidatorSet::new(&keys).unwrap();
            assert_eq!(set.f(), f);
            assert_eq!(set.quorum(), q);
            assert_eq!(set.impeach_quorum(ImpeachQuorum::FPlusOne), fq);
            assert_eq!(set.impeach_quorum(ImpeachQuorum::default()), q);
            // Two quorums of 2f+1 intersect in at least f+1, so in an honest validator.
            assert!(2 * q - n as usize > f);
            // Index lookup (a scan for small sets, a binary search above) is the position
            // in address order, and absent for a stranger.
            for (i, a) in set.addresses().enumerate() {
                assert_eq!(set.index_of(&a), Some(i));
                assert_eq!(set.address_at(i), Some(a));
            }
            assert_eq!(set.index_of(&Address([0xee; 20])), None);
        }
    }

    #[test]
    fn duplicates_refused() {
        let k = SecretKey::from_bytes(&[1; 32]).unwrap().public_key();
        assert_eq!(
            ValidatorSet::new(&[k, k]),
            Err(ConfigError::DuplicateValidator)
        );
    }
}
