//! The messages of `/cpchain/cfrag/1`: what an owner or a grantee asks a proxy, and what
//! the proxy answers. Each is one versioned SDK envelope (`cpchain_core::encoding`:
//! version byte, tag, postcard body), decoded only after the frame bound of
//! [`crate::network::CfragCodec`] and with the type's own `MAX_ENCODED_LEN`.

use crate::network::{CFRAG_MAX_REPLY_BYTES, CFRAG_MAX_REQUEST_BYTES};
use cpchain_core::WireMessage;
use cpchain_storage::sharing::{
    CfragResponse, GrantId, KfragDelivery, ReencryptionRequest, SharingError,
};
use serde::{Deserialize, Serialize};

/// What a proxy is asked. Variant order is part of the wire format: append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CfragRequest {
    /// An owner hands the proxy its kfrags of a grant (PRE step 3). Sent over the noise
    /// channel of libp2p, which is confidential as the sharing module asks.
    Deliver(Box<KfragDelivery>),
    /// A grantee asks for one interval's cfrag (PRE step 5).
    Reencrypt(Box<ReencryptionRequest>),
}

impl WireMessage for CfragRequest {
    const TAG: u16 = 0x0a30;
    const MAX_ENCODED_LEN: usize = 3 + 1 + <KfragDelivery as WireMessage>::MAX_ENCODED_LEN;
}

/// What a proxy answers. Variant order is part of the wire format: append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum CfragReply {
    /// The delivery was verified, checked against the chain and stored.
    Accepted(GrantId),
    /// The signed cfrag (the grantee checks it with `Grantee::handle_cfrag`; a bad one is
    /// a fault naming the signing proxy).
    Cfrag(CfragResponse),
    /// Not served, and why.
    Refused {
        /// The grant named by the request (all zeros when it could not be read).
        grant: GrantId,
        /// Why.
        code: RefusalCode,
    },
}

impl WireMessage for CfragReply {
    const TAG: u16 = 0x0a31;
    const MAX_ENCODED_LEN: usize = 3 + 1 + <CfragResponse as WireMessage>::MAX_ENCODED_LEN;
}

// The network layer's frame bounds must carry the largest messages.
const _: () = assert!(CfragRequest::MAX_ENCODED_LEN <= CFRAG_MAX_REQUEST_BYTES);
const _: () = assert!(CfragReply::MAX_ENCODED_LEN <= CFRAG_MAX_REPLY_BYTES);

/// Why a proxy refused: stable codes (their [`RefusalCode::as_str`] names are what logs
/// and the HTTP API show). Variant order is part of the wire format: append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefusalCode {
    /// The grant is not recorded on the chain (`not_on_chain`).
    NotOnChain,
    /// The grant was revoked on the chain (`revoked`).
    Revoked,
    /// The grant expired by the latest block's timestamp (`expired`).
    Expired,
    /// The proxy holds no kfrags of this grant (`no_kfrags`): never delivered to it.
    NoKfrags,
    /// The interval asked for is outside the grant (`outside_grant`).
    OutsideGrant,
    /// The grant or delivery does not name this proxy (`not_for_us`).
    NotForUs,
    /// A bad signature, wrong chain or undecodable key material (`unauthenticated`).
    Unauthenticated,
    /// A structurally wrong delivery or request (`malformed`).
    Malformed,
    /// A kfrag of the delivery does not verify: the owner's fault (`invalid_kfrag`).
    InvalidKfrag,
    /// The proxy's grant count or byte budget is full (`full`).
    Full,
    /// The request did not decode (`decode`).
    Decode,
    /// The proxy's grant is not live by its own times at the latest block (`not_live`).
    NotLive,
    /// The proxy failed locally (its disk) and served nothing (`internal`).
    Internal,
}

impl RefusalCode {
    /// The stable name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::NotOnChain => "not_on_chain",
            RefusalCode::Revoked => "revoked",
            RefusalCode::Expired => "expired",
            RefusalCode::NoKfrags => "no_kfrags",
            RefusalCode::OutsideGrant => "outside_grant",
            RefusalCode::NotForUs => "not_for_us",
            RefusalCode::Unauthenticated => "unauthenticated",
            RefusalCode::Malformed => "malformed",
            RefusalCode::InvalidKfrag => "invalid_kfrag",
            RefusalCode::Full => "full",
            RefusalCode::Decode => "decode",
            RefusalCode::NotLive => "not_live",
            RefusalCode::Internal => "internal",
        }
    }

    /// The code of a refusal by the sharing machine.
    pub fn of(e: SharingError) -> RefusalCode {
        match e {
            SharingError::NotAddressedToUs => RefusalCode::NotForUs,
            SharingError::GrantNotLive => RefusalCode::NotLive,
            SharingError::UnknownGrant => RefusalCode::NoKfrags,
            SharingError::IntervalOutsideGrant => RefusalCode::OutsideGrant,
            SharingError::BadSignature
            | SharingError::WrongChain
            | SharingError::Decode(_)
            | SharingError::Crypto(_) => RefusalCode::Unauthenticated,
            SharingError::CapacityExceeded => RefusalCode::Full,
            _ => RefusalCode::Malformed,
        }
    }
}

impl core::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
