//! Temporary stand-ins for the data-chain types, replaced by the real ones at merge.
#![allow(missing_docs)]
use cpchain_crypto::aead::AeadKey;
use serde::{Deserialize, Serialize};

pub const KDF_SALT: &[u8] = b"cpchain/storage/kdf/v1";
pub const MAX_CAPSULE_LEN: usize = 256;
pub type CapsuleBytes = heapless::Vec<u8, MAX_CAPSULE_LEN>;

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct StreamId(#[serde(with = "cpchain_core::fixed_bytes")] pub [u8; 32]);

#[derive(Clone, PartialEq, Eq)]
pub struct MasterSecret([u8; 32]);
impl MasterSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterSecret {
        MasterSecret(bytes)
    }
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn interval_key(&self, stream: &StreamId, interval: u64) -> IntervalKey {
        let okm = cpchain_crypto::pre::hkdf_keccak256(
            &self.0,
            KDF_SALT,
            &[
                b"cpchain/storage/interval-data-key/v1",
                &[0],
                &stream.0,
                &interval.to_be_bytes(),
            ],
        );
        IntervalKey::from_parts(*stream, interval, AeadKey::from_bytes(*okm))
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IntervalKey {
    stream: StreamId,
    interval: u64,
    key: AeadKey,
}
impl IntervalKey {
    pub fn from_parts(stream: StreamId, interval: u64, key: AeadKey) -> IntervalKey {
        IntervalKey {
            stream,
            interval,
            key,
        }
    }
    pub fn stream(&self) -> &StreamId {
        &self.stream
    }
    pub fn interval(&self) -> u64 {
        self.interval
    }
    pub fn aead_key(&self) -> &AeadKey {
        &self.key
    }
}
