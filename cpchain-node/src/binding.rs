//! The transport identity bound to the CPChain address.
//!
//! libp2p authenticates peers by an ed25519 key (noise handshake, gossipsub message
//! signatures). Each node derives that key from its secp256k1 identity key (one-way), and
//! signs a *binding*: the secp256k1 key's recoverable signature over the chain id and the
//! transport peer id, under its own domain. The binding travels in identify's agent
//! version; a peer's messages are handed to the validator only once its binding has been
//! checked, with the address recovered from it as `from`. A binding cannot be replayed by
//! another transport key (the peer id is signed) nor on another chain (the chain id is).

use cpchain_core::{keccak256_concat, Address, Domain};
use cpchain_crypto::{SecretKey, Signature};
use libp2p::identity::Keypair;
use libp2p::PeerId;

/// Domain of the binding signature.
pub const BINDING_DOMAIN: Domain = Domain::new("cpchain-node/peer-binding/v1");

/// Prefix of the identify agent version; the hex binding follows it.
pub const AGENT_PREFIX: &str = "cpchain-node/0.1 binding=";

/// The transport keypair derived from the identity key: `keccak256(domain ‖ secret)` as
/// the ed25519 seed, so the peer id is fixed by the identity key (configs can name it).
pub fn transport_keypair(key: &SecretKey) -> Keypair {
    let secret = key.to_bytes();
    let seed = keccak256_concat(&[b"cpchain-node/transport-key/v1", secret.as_slice()]);
    let mut bytes = seed.0;
    // 32 bytes are always a valid ed25519 seed.
    match Keypair::ed25519_from_bytes(&mut bytes) {
        Ok(k) => k,
        Err(_) => Keypair::generate_ed25519(),
    }
}

/// The peer id of the node whose identity key is `key`.
pub fn peer_id_of(key: &SecretKey) -> PeerId {
    transport_keypair(key).public().to_peer_id()
}

fn payload(chain_id: u64, peer: &PeerId) -> Vec<u8> {
    let mut p = chain_id.to_le_bytes().to_vec();
    p.extend_from_slice(&peer.to_bytes());
    p
}

/// The agent version announcing `key`'s binding to `peer` on `chain_id`.
pub fn agent_version(key: &SecretKey, chain_id: u64, peer: &PeerId) -> String {
    let sig = key.sign(&BINDING_DOMAIN, &payload(chain_id, peer));
    format!("{AGENT_PREFIX}{}", hex::encode(sig.to_bytes()))
}

/// Why a peer's binding was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The agent version carries no binding.
    #[error("no CPChain binding in the agent version")]
    Missing,
    /// The binding is not 65 bytes of hex or not a valid signature.
    #[error("malformed binding signature")]
    Malformed,
    /// The signature does not recover (wrong chain, wrong peer id, garbage).
    #[error("binding signature does not recover")]
    BadSignature,
}

/// The CPChain address bound to `peer` by the agent version it announced.
pub fn verify(agent_version: &str, chain_id: u64, peer: &PeerId) -> Result<Address, BindingError> {
    let hexed = agent_version
        .strip_prefix(AGENT_PREFIX)
        .ok_or(BindingError::Missing)?;
    if hexed.len() != 130 {
        return Err(BindingError::Malformed);
    }
    let bytes = hex::decode(hexed).map_err(|_| BindingError::Malformed)?;
    let arr: [u8; 65] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| BindingError::Malformed)?;
    let sig = Signature::from_bytes(&arr).map_err(|_| BindingError::Malformed)?;
    sig.recover_signer(&BINDING_DOMAIN, &payload(chain_id, peer))
        .map_err(|_| BindingError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes(&[b; 32]).expect("valid scalar")
    }

    #[test]
    fn binding_names_the_identity_address() {
        let k = key(7);
        let peer = peer_id_of(&k);
        let agent = agent_version(&k, 41, &peer);
        assert_eq!(verify(&agent, 41, &peer), Ok(k.public_key().address()));
    }

    #[test]
    fn binding_replayed_for_another_peer_or_chain_names_someone_else() {
        let k = key(7);
        let peer = peer_id_of(&k);
        let other = peer_id_of(&key(8));
        let agent = agent_version(&k, 41, &peer);
        // Recovery over another payload yields an unrelated address (or fails): never k's.
        assert_ne!(verify(&agent, 41, &other), Ok(k.public_key().address()));
        assert_ne!(verify(&agent, 42, &peer), Ok(k.public_key().address()));
    }

    #[test]
    fn malformed_bindings_are_refused_without_panic() {
        let peer = peer_id_of(&key(7));
        assert_eq!(
            verify("rust-libp2p/0.1", 41, &peer),
            Err(BindingError::Missing)
        );
        assert_eq!(
            verify(&format!("{AGENT_PREFIX}zz"), 41, &peer),
            Err(BindingError::Malformed)
        );
        let bad_v = format!("{AGENT_PREFIX}{}", "11".repeat(64) + "07");
        assert_eq!(verify(&bad_v, 41, &peer), Err(BindingError::Malformed));
    }
}
