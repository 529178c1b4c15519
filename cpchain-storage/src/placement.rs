//! Kademlia placement (§2.2.1: "stored in different nodes based on the distributed hash table
//! method"): which nodes hold which shard, as pure functions of ids, so a host's real DHT
//! (for example libp2p Kademlia) and every reader compute the same answer from the same
//! routing view.
//!
//! Distances are XOR of 256-bit keys, compared as big-endian integers, as in Kademlia. libp2p's
//! `kad` hashes both peer ids and record keys with SHA-256 into its key space
//! (`kbucket::Key::new`); [`KadKey::from_preimage`] does the same, so a libp2p host maps a peer
//! with `KadKey::from_preimage(&peer_id.to_bytes())` and a shard with
//! [`crate::ShardId::kad_key`].
//!
//! * [`closest`] (no allocation): the r nodes closest to a key, which is where plain Kademlia
//!   stores a record with replication factor r.
//! * [`place_shards`] (feature `alloc`): a block's shards on *disjoint* node sets, each shard
//!   on the r closest nodes not already holding a shard of the same block. Disjointness is
//!   what makes "survives the loss of any m storage nodes" true: a lost node takes at most one
//!   shard with it. Plain per-shard closeness can put two shards of a block on one node; this
//!   is a deliberate refinement of the paper's DHT, and a reader recomputes the same
//!   placement from the shard ids in the key-index record.

use crate::ids::ShardId;
use core::fmt;
use sha2::{Digest, Sha256};

/// A point of the Kademlia key space: a node id or a record key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KadKey(pub [u8; 32]);

impl KadKey {
    /// SHA-256 of `preimage`, as libp2p's `kbucket::Key::new` maps peer ids and record keys.
    pub fn from_preimage(preimage: &[u8]) -> KadKey {
        KadKey(Sha256::digest(preimage).into())
    }

    /// XOR distance to `other`.
    pub fn distance(&self, other: &KadKey) -> Distance {
        let mut d = [0u8; 32];
        for ((o, a), b) in d.iter_mut().zip(self.0).zip(other.0) {
            *o = a ^ b;
        }
        Distance(d)
    }
}

impl fmt::Debug for KadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KadKey(0x")?;
        cpchain_core::fixed_bytes::write_hex(f, &self.0)?;
        f.write_str(")")
    }
}

/// A Kademlia distance; ordered as a 256-bit big-endian integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Distance(pub [u8; 32]);

/// Write the nodes closest to `target` into `out`, nearest first, and return how many were
/// written (`min(out.len(), distinct nodes)`). Duplicate node ids count once. O(n · r), no
/// allocation: for firmware and for small r.
pub fn closest(target: &KadKey, nodes: &[KadKey], out: &mut [KadKey]) -> usize {
    let mut written = 0;
    let mut floor: Option<Distance> = None;
    for slot in out.iter_mut() {
        // XOR with a fixed target is a bijection, so distinct nodes have distinct distances
        // and "strictly beyond the last pick" both orders and de-duplicates.
        let best = nodes
            .iter()
            .map(|n| (target.distance(n), n))
            .filter(|(d, _)| floor.is_none_or(|f| *d > f))
            .min_by(|a, b| a.0.cmp(&b.0));
        let Some((d, n)) = best else {
            break;
        };
        *slot = *n;
        floor = Some(d);
        written += 1;
    }
    written
}

// Here rather than in `ids.rs` so that the ids stay below placement (issue 13 item 5: the
// method made `ids.rs ↔ placement.rs` an import cycle).
impl ShardId {
    /// The shard's key in libp2p's Kademlia key space (SHA-256 of the id, as libp2p hashes
    /// record keys).
    pub fn kad_key(&self) -> KadKey {
        KadKey::from_preimage(self.0.as_bytes())
    }
}

#[cfg(feature = "alloc")]
pub use self::alloc_placement::*;

#[cfg(feature = "alloc")]
mod alloc_placement {
    use super::*;
    use crate::PlacementError;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    /// The `r` nodes closest to `target`, nearest first.
    pub fn closest_nodes(target: &KadKey, nodes: &[KadKey], r: usize) -> Vec<KadKey> {
        let mut sorted: Vec<KadKey> = nodes.to_vec();
        sorted.sort_unstable_by_key(|n| target.distance(n));
        sorted.dedup();
        sorted.truncate(r);
        sorted
    }

    /// Where one shard goes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ShardPlacement {
        /// The shard.
        pub shard: ShardId,
        /// The nodes that store it, nearest first.
        pub nodes: Vec<KadKey>,
    }

    /// Place a block's shards (in their key-index order) on disjoint sets of `r` nodes each:
    /// shard i goes to the r nodes closest to its key that hold no earlier shard of the
    /// block. Needs `shards.len() × r` distinct nodes.
    pub fn place_shards(
        shards: &[ShardId],
        nodes: &[KadKey],
        r: usize,
    ) -> Result<Vec<ShardPlacement>, PlacementError> {
        if r == 0 {
            return Err(PlacementError::ZeroReplication);
        }
        let distinct: BTreeSet<KadKey> = nodes.iter().copied().collect();
        let needed = shards.len().saturating_mul(r);
        if distinct.len() < needed {
            return Err(PlacementError::NotEnoughNodes {
                needed,
                have: distinct.len(),
            });
        }
        let mut free: Vec<KadKey> = distinct.into_iter().collect();
        let mut out = Vec::with_capacity(shards.len());
        for shard in shards {
            let key = shard.kad_key();
            free.sort_unstable_by_key(|n| key.distance(n));
            let rest = free.split_off(r.min(free.len()));
            let chosen = core::mem::replace(&mut free, rest);
            out.push(ShardPlacement {
                shard: *shard,
                nodes: chosen,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> KadKey {
        let mut a = [0u8; 32];
        a[31] = b;
        KadKey(a)
    }

    #[test]
    fn closest_orders_by_xor_and_dedups() {
        let nodes = [k(0b1000), k(0b0001), k(0b0011), k(0b0001), k(0b0110)];
        let mut out = [k(0); 3];
        let n = closest(&k(0b0010), &nodes, &mut out);
        assert_eq!(n, 3);
        // distances: 1000^0010=1010, 0001^0010=0011, 0011^0010=0001, 0110^0010=0100
        assert_eq!(out, [k(0b0011), k(0b0001), k(0b0110)]);
        let mut big = [k(0); 10];
        assert_eq!(closest(&k(0), &nodes, &mut big), 4);
    }

    #[test]
    fn distance_is_symmetric_and_zero_on_self() {
        let a = KadKey::from_preimage(b"a");
        let b = KadKey::from_preimage(b"b");
        assert_eq!(a.distance(&b), b.distance(&a));
        assert_eq!(a.distance(&a), Distance([0; 32]));
    }
}
