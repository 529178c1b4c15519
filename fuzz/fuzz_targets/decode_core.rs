//! Decode every core type and the message envelope from arbitrary bytes; whatever decodes
//! must re-encode to exactly the input (the wire format is canonical).
#![no_main]

use cpchain_core::encoding::{decode, encode_to_vec, peek_tag};
use cpchain_core::{
    Address, ChainSpec, Duration, Hash, Height, Term, Timestamp, View, WireMessage,
};
use cpchain_crypto::{PublicKey, Signature};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Wraps a core type in an envelope of its own so each can be driven through `decode`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct W<T, const TAG: u16>(T);

impl<T: Serialize + DeserializeOwned, const TAG: u16> WireMessage for W<T, TAG> {
    const TAG: u16 = TAG;
    const MAX_ENCODED_LEN: usize = 1024;
}

fn round_trip<M: WireMessage + core::fmt::Debug>(data: &[u8]) {
    if let Ok(msg) = decode::<M>(data) {
        let again = encode_to_vec(&msg).expect("a decoded message re-encodes");
        assert_eq!(
            again, data,
            "decode→encode is not byte-identical for {msg:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = peek_tag(data);
    round_trip::<ChainSpec>(data);
    round_trip::<W<Hash, 0x7f10>>(data);
    round_trip::<W<Address, 0x7f11>>(data);
    round_trip::<W<(Timestamp, Duration), 0x7f12>>(data);
    round_trip::<W<(Height, Term, View), 0x7f13>>(data);
    round_trip::<W<Signature, 0x7f14>>(data);
    round_trip::<W<PublicKey, 0x7f15>>(data);
    // Retag the input for every wrapper so the fuzzer reaches each body decoder quickly.
    if data.len() >= 4 {
        let mut v = data.to_vec();
        v[0] = cpchain_core::encoding::WIRE_VERSION;
        for tag in [0x0001u16, 0x7f10, 0x7f11, 0x7f12, 0x7f13, 0x7f14, 0x7f15] {
            v[1..3].copy_from_slice(&tag.to_be_bytes());
            round_trip::<ChainSpec>(&v);
            round_trip::<W<Hash, 0x7f10>>(&v);
            round_trip::<W<Address, 0x7f11>>(&v);
            round_trip::<W<(Timestamp, Duration), 0x7f12>>(&v);
            round_trip::<W<(Height, Term, View), 0x7f13>>(&v);
            round_trip::<W<Signature, 0x7f14>>(&v);
            round_trip::<W<PublicKey, 0x7f15>>(&v);
        }
    }
});
