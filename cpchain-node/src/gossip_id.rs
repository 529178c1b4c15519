//! Gossipsub message ids: SHA-256 under a domain per kind, bound to the topic (issue 14).
//!
//! Every gossip copy a node receives, and every message it publishes, costs one id: a
//! hash over the whole message for most kinds (a 1 MiB PRE-PREPARE included), which made
//! Keccak-256 ids 1.7 % of all CPU samples of a loaded n = 4 devnet. SHA-256 runs on the
//! CPU's SHA extensions where it has them (`sha2` detects them at run time on x86 and
//! x86-64) and
//! is then 4-6 times faster than Keccak: medians of `benches/host.rs` group `gossip_id`
//! (the old id against this one, 2-core EPYC VM with SHA extensions, shared, load 4-6,
//! 2026-12-07): a batch of one 200-byte transfer (204 bytes) 1.61 µs → 0.365 µs, a
//! 100 KiB batch 401 µs → 71.7 µs, the PRE-PREPARE of a 1 MiB block 3.48 ms → 0.785 ms.
//! A CPU without them runs `sha2`'s portable code (its speed there is not measured
//! here). Ids are not a consensus
//! hash: nothing signs, stores or compares them beyond gossipsub's duplicate cache,
//! IHAVE/IWANT and IDONTWANT, so Keccak (the chain's hash) is not needed here.
//!
//! An id is `SHA-256(len(domain) ‖ domain ‖ len(topic) ‖ topic ‖ content)`, with the
//! domain's length as one byte and the topic's as eight (little-endian). Both lengths
//! prefix what they measure, so an input reads back as exactly one (kind, topic,
//! content): two different ones have equal ids only by a SHA-256 collision, which no
//! attacker can make. What this keeps from the Keccak ids, and adds:
//!
//! * **Kinds apart** ([`Kind`]): a whole message's id (its whole encoding: PRE-PREPAREs,
//!   votes, transaction batches) never equals a VALIDATE's (one per block, from the block
//!   id) or a compact VALIDATE's (another one per block): a compact VALIDATE never
//!   suppresses a whole one, and a message whose bytes are a block id never takes the id
//!   of that block's VALIDATEs.
//! * **Topics apart** (new): gossipsub's duplicate cache is one for all topics and is
//!   filled before it looks at the topic (libp2p-gossipsub 0.49, even for a topic the node
//!   is not subscribed to), so with content-only ids a peer could send the bytes of a
//!   PRE-PREPARE it relays, or of a VALIDATE, on the transaction topic (or any other) and
//!   the node would drop the real copy on the consensus topic as a duplicate. With the
//!   topic in the id, a copy on another topic is another message. The topic carries the
//!   chain id, so transaction batches are also apart from consensus messages by it.
//! * **The same id on every node**: a pure function of the topic and the bytes.
//!
//! Mixed versions: a node with these ids and one with the Keccak ids of earlier versions
//! still agree on every block, since ids never reach the engine; during an upgrade
//! gossipsub's duplicate suppression simply does not work between the two: a message
//! announced by IHAVE under the other version's id is fetched by IWANT and then dropped
//! as a duplicate, and IDONTWANT does not stop the other version's copies, so a node may
//! receive more copies until every node runs the same version.

use cpchain_core::Hash;
use sha2::{Digest, Sha256};

/// What an id is taken over: each kind hashes under its own domain, so ids of different
/// kinds never coincide (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole message's encoding (PRE-PREPAREs, votes, transaction batches: anything
    /// that is not a VALIDATE), so that a message re-sent after a restart is one message.
    Message,
    /// A whole VALIDATE: the id of its block (one id for every validator's copy).
    Validate,
    /// A compact VALIDATE (`crate::compact`): the id of its block, apart from
    /// [`Kind::Validate`] so that whole and compact forms never suppress each other.
    CompactValidate,
}

impl Kind {
    /// The domain of the kind (each under 256 bytes: its length is one byte).
    const fn domain(self) -> &'static [u8] {
        match self {
            Kind::Message => b"cpchain-node/gossip-id/sha256/message/v1",
            Kind::Validate => b"cpchain-node/gossip-id/sha256/validate/v1",
            Kind::CompactValidate => b"cpchain-node/gossip-id/sha256/compact-validate/v1",
        }
    }
}

/// The gossip id of `content` of `kind` on `topic` (the topic's string, gossipsub's
/// `TopicHash` of an `IdentTopic`): see the module docs for the layout.
pub fn hash(kind: Kind, topic: &str, content: &[u8]) -> Hash {
    let domain = kind.domain();
    // Every domain is a short constant: the cast cannot truncate (checked in tests).
    let domain_len = [domain.len() as u8];
    let topic_len = (topic.len() as u64).to_le_bytes();
    let digest = Sha256::new()
        .chain_update(domain_len)
        .chain_update(domain)
        .chain_update(topic_len)
        .chain_update(topic.as_bytes())
        .chain_update(content)
        .finalize();
    Hash(digest.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Kind; 3] = [Kind::Message, Kind::Validate, Kind::CompactValidate];

    #[test]
    fn domains_are_distinct_and_their_lengths_fit_one_byte() {
        for (i, a) in KINDS.iter().enumerate() {
            assert!(a.domain().len() < 256);
            for b in &KINDS[i + 1..] {
                assert_ne!(a.domain(), b.domain());
            }
        }
    }

    /// The layout is SHA-256 of the length-prefixed domain and topic, then the content:
    /// checked against the digest of the same bytes laid out by hand.
    #[test]
    fn an_id_is_sha256_of_the_length_prefixed_domain_and_topic_then_the_content() {
        let (topic, content) = ("/cpchain/41/tx", b"some batch".as_slice());
        let domain = Kind::Message.domain();
        let mut input = vec![domain.len() as u8];
        input.extend_from_slice(domain);
        input.extend_from_slice(&(topic.len() as u64).to_le_bytes());
        input.extend_from_slice(topic.as_bytes());
        input.extend_from_slice(content);
        let want: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(hash(Kind::Message, topic, content), Hash(want));
        assert_ne!(
            hash(Kind::Message, topic, content),
            cpchain_core::keccak256(&input),
            "not Keccak"
        );
    }

    /// Moving bytes between the topic and the content never gives the same id: the
    /// topic's length is hashed too.
    #[test]
    fn topic_and_content_boundaries_are_unambiguous() {
        let a = hash(Kind::Message, "/cpchain/41/tx", b"x");
        let b = hash(Kind::Message, "/cpchain/41/t", b"xx");
        let c = hash(Kind::Message, "/cpchain/41/txx", b"");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }
}
