//! Anchors (§2.2.1, §2.1): "the hash value of the data is stored in the blockchain as a
//! voucher for data integrity". Every upload interval u the writer signs the current head of
//! its chain; the host puts the encoded anchor on chain (for example as transaction data).
//!
//! An anchor says: *block `last_index` of `stream` has id `head`, and every record of this
//! stream from before `through` is in blocks `0..=last_index`.* Because each block links to
//! its predecessor, the anchor commits to the whole prefix; a reader that finds fewer blocks,
//! or a different block at `last_index`, or a later block holding records older than
//! `through`, has caught truncation, substitution or backdating.
//!
//! The signed payload is fixed-size and position-based:
//! `stream (32) ‖ last_index (u64 BE) ‖ head (32) ‖ through (u64 BE)` under the domain
//! `"cpchain/storage/anchor/v1"`. An anchor is not bound to a chain id: it is a statement
//! about a data stream, equally true on any chain it is recorded on.

use crate::block::{BlockId, StreamId};
use crate::VerifyError;
use cpchain_core::encoding::Domain;
use cpchain_core::{Timestamp, WireMessage};
use cpchain_crypto::{PublicKey, SecretKey, Signature};
use serde::{Deserialize, Serialize};

/// Domain of the device signature over an anchor.
pub const ANCHOR_DOMAIN: Domain = Domain::new("cpchain/storage/anchor/v1");

/// A signed commitment to a stream's head, for the host to record on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The stream.
    pub stream: StreamId,
    /// Index of the head block.
    pub last_index: u64,
    /// Id of the head block.
    pub head: BlockId,
    /// Upload boundary this anchor closes: no later block holds records from before it.
    pub through: Timestamp,
    /// Device signature.
    pub signature: Signature,
}

impl WireMessage for Anchor {
    const TAG: u16 = 0x0402;
    const MAX_ENCODED_LEN: usize = 3 + 32 + 10 + 32 + 10 + 65;
}

fn payload(stream: &StreamId, last_index: u64, head: &BlockId, through: Timestamp) -> [u8; 80] {
    let mut p = [0u8; 80];
    let parts: [&[u8]; 4] = [
        &stream.0,
        &last_index.to_be_bytes(),
        head.0.as_bytes(),
        &through.as_millis().to_be_bytes(),
    ];
    for (d, s) in p.iter_mut().zip(parts.into_iter().flatten()) {
        *d = *s;
    }
    p
}

impl Anchor {
    /// Sign an anchor with the device key.
    pub fn sign(
        stream: StreamId,
        last_index: u64,
        head: BlockId,
        through: Timestamp,
        device: &SecretKey,
    ) -> Anchor {
        let signature = device.sign(
            &ANCHOR_DOMAIN,
            &payload(&stream, last_index, &head, through),
        );
        Anchor {
            stream,
            last_index,
            head,
            through,
            signature,
        }
    }

    /// Check the device signature.
    pub fn verify(&self, device: &PublicKey) -> Result<(), VerifyError> {
        let p = payload(&self.stream, self.last_index, &self.head, self.through);
        device
            .verify_payload(&ANCHOR_DOMAIN, &p, &self.signature)
            .map_err(|_| VerifyError::BadAnchor {
                index: self.last_index,
            })
    }
}
