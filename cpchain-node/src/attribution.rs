//! Who sent a gossiped consensus message, without gossipsub's author signatures.
//!
//! Gossipsub runs anonymous (`MessageAuthenticity::Anonymous`, `ValidationMode::Anonymous`,
//! content-addressed message ids): no ed25519 signature is made on each published message
//! nor checked on each received copy (SHA-512 over the whole payload, up to 1 MiB, per
//! copy: 7 % of a node's CPU in the issue 14 profile). Every consensus message and
//! transaction carries its own secp256k1 signature, so the gossip author field added
//! nothing the engine needs, but the validator is handed a `from` with each message, and
//! that `from` must never come from an unauthenticated field. It is taken here:
//!
//! * VOTE, ROUND CHANGE, PROPOSAL: the member the message names as its signer (`voter`,
//!   `leader`), after checking the message's signature against that member's key in the
//!   validator set (a verification, not a recovery: the keys are known). A message whose
//!   signature does not match the member it names is [`AttributionError::Forged`] and is
//!   not handed to the engine.
//! * PRE-PREPARE: the header's proposer, after checking the seal recovers to it (one
//!   recovery per height). The engine further accepts it only from the proposer the
//!   schedule names.
//! * VALIDATE: it has no single signer (it carries a C-certificate the engine checks for
//!   a quorum), so it is attributed to the peer that relayed it, whose address is bound to
//!   its connection (noise + [`crate::binding`]). The engine uses this `from` only to
//!   decide whom to help catch up (members only), never to count a vote.
//!
//! What the engine does with `from` (checked in `cpchain-consensus`): votes, round
//! changes, proposals and VALIDATEs are verified by their own signatures and counted by
//! their signers; `from` names the target of catch-up help (`help_laggard`, on a stale
//! ROUND CHANGE before its signature is checked: hence the check here) and the sender in
//! a `BadSeal` fault. The engine checks these signatures again (its contract does not
//! trust the host); the extra verification is per consensus message (a few dozen per
//! height), not per transaction.

use cpchain_consensus::lbft::{Message, ValidatorSet};
use cpchain_core::{encoding, Address};

/// Why a gossiped consensus message was not handed to the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// Not an LBFT message encoding.
    #[error("undecodable consensus message")]
    Decode,
    /// The signature does not match the member (or the proposer) the message names.
    #[error("signature does not match the signer it names")]
    Forged,
    /// A VALIDATE relayed by a peer with no bound address.
    #[error("VALIDATE relayed by an unbound peer")]
    Unbound,
}

/// The authenticated sender of a gossiped consensus message (see the module docs) and
/// the decoded message. `relay` is the bound address of the peer that forwarded it
/// (gossipsub's propagation source), used for VALIDATEs only.
pub fn gossip_sender(
    bytes: &[u8],
    chain_id: u64,
    set: &ValidatorSet,
    relay: Option<Address>,
) -> Result<(Address, Message), AttributionError> {
    let msg: Message = encoding::decode(bytes).map_err(|_| AttributionError::Decode)?;
    let from = match &msg {
        Message::Vote(v) => {
            v.verify(chain_id, set)
                .map_err(|_| AttributionError::Forged)?;
            v.voter
        }
        Message::RoundChange(rc) => {
            rc.verify(chain_id, set)
                .map_err(|_| AttributionError::Forged)?;
            rc.voter
        }
        Message::Proposal(p) => {
            p.verify(chain_id, set)
                .map_err(|_| AttributionError::Forged)?;
            p.leader
        }
        Message::PrePrepare(b) => {
            b.verify_seal().map_err(|_| AttributionError::Forged)?;
            b.header.proposer
        }
        Message::Validate(_) => relay.ok_or(AttributionError::Unbound)?,
    };
    Ok((from, msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpchain_consensus::lbft::{Block, Header, Vote, VoteKind};
    use cpchain_core::{encoding::encode_to_vec, ChainSpec, Height, Timestamp};
    use cpchain_crypto::SecretKey;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes(&[b; 32]).expect("scalar")
    }

    fn set(keys: &[SecretKey]) -> ValidatorSet {
        let pubs: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        ValidatorSet::new(&pubs).expect("set")
    }

    /// Anonymous gossip: a vote signed by member A and relayed by member C reaches B
    /// attributed to A (its signer), not to C (the relay); the same vote re-signed by C
    /// but still naming A is refused as forged, as is a vote whose block was changed.
    #[test]
    fn relayed_message_is_attributed_to_its_signer_and_a_forged_one_is_refused() {
        let spec = ChainSpec::devnet();
        let keys = [key(1), key(2), key(3), key(4)];
        let set = set(&keys);
        let (a, c) = (&keys[0], &keys[2]);
        let genesis = Header::genesis(&spec, Timestamp(0));
        let vote = Vote::sign(
            a,
            spec.chain_id,
            VoteKind::Prepare,
            Height(1),
            0,
            genesis.id(),
        );
        let relay = Some(c.public_key().address());
        let bytes = encode_to_vec(&Message::Vote(vote.clone())).expect("encodes");
        let (from, msg) = gossip_sender(&bytes, spec.chain_id, &set, relay).expect("genuine");
        assert_eq!(from, a.public_key().address(), "attributed to the signer");
        assert_eq!(msg, Message::Vote(vote.clone()));

        // C signs, but names A as the voter.
        let mut forged = Vote::sign(
            c,
            spec.chain_id,
            VoteKind::Prepare,
            Height(1),
            0,
            genesis.id(),
        );
        forged.voter = a.public_key().address();
        let bytes = encode_to_vec(&Message::Vote(forged)).expect("encodes");
        assert_eq!(
            gossip_sender(&bytes, spec.chain_id, &set, relay),
            Err(AttributionError::Forged)
        );
        // A's signature, another block.
        let mut altered = vote.clone();
        altered.block = cpchain_core::keccak256(b"other");
        let bytes = encode_to_vec(&Message::Vote(altered)).expect("encodes");
        assert_eq!(
            gossip_sender(&bytes, spec.chain_id, &set, relay),
            Err(AttributionError::Forged)
        );
        // Another chain.
        let bytes = encode_to_vec(&Message::Vote(vote)).expect("encodes");
        assert_eq!(
            gossip_sender(&bytes, spec.chain_id + 1, &set, relay),
            Err(AttributionError::Forged)
        );
    }

    /// A PRE-PREPARE is attributed to the proposer its seal recovers to, whoever relays
    /// it; a block whose header names another proposer than the sealer is refused.
    #[test]
    fn pre_prepare_is_attributed_by_its_seal() {
        let spec = ChainSpec::devnet();
        let keys = [key(1), key(2), key(3), key(4)];
        let set = set(&keys);
        let genesis = Header::genesis(&spec, Timestamp(0));
        let p = key(9); // a proposer RNode outside the committee
        let block = Block::propose(
            &spec,
            &genesis,
            &p,
            p.public_key().address(),
            Timestamp(3_000),
            vec![vec![1, 2, 3]],
        );
        let relay = Some(keys[1].public_key().address());
        let bytes = encode_to_vec(&Message::PrePrepare(block.clone())).expect("encodes");
        let (from, _) = gossip_sender(&bytes, spec.chain_id, &set, relay).expect("sealed");
        assert_eq!(from, p.public_key().address());
        let mut other = block;
        other.header.proposer = keys[0].public_key().address();
        let bytes = encode_to_vec(&Message::PrePrepare(other)).expect("encodes");
        assert_eq!(
            gossip_sender(&bytes, spec.chain_id, &set, relay),
            Err(AttributionError::Forged)
        );
        assert_eq!(
            gossip_sender(&[1, 2, 3], spec.chain_id, &set, relay),
            Err(AttributionError::Decode)
        );
    }
}
