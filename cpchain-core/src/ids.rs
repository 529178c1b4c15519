//! The protocol counters of white paper §2.4: block height, proposer term and view.

use core::fmt;
use serde::{Deserialize, Serialize};

macro_rules! counter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl $name {
            /// The raw counter.
            pub const fn get(self) -> u64 {
                self.0
            }
            /// The next value, or `None` at `u64::MAX` (never wraps).
            pub const fn checked_next(self) -> Option<Self> {
                match self.0.checked_add(1) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }
            /// The previous value, or `None` at zero.
            pub const fn checked_prev(self) -> Option<Self> {
                match self.0.checked_sub(1) {
                    Some(v) => Some($name(v)),
                    None => None,
                }
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                $name(v)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

counter!(
    /// A block height; genesis is height 0 and the first proposed block is height 1.
    Height
);
counter!(
    /// A proposer term: the span in which one proposer committee serves (mainnet: 36 blocks).
    Term
);
counter!(
    /// A view within a term: each committee member proposes once per view (mainnet: 3 views).
    View
);
