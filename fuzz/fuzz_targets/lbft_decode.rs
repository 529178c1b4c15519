//! Decode every LBFT wire type (fault evidence included) from arbitrary bytes; whatever decodes must re-encode to
//! exactly the input (canonical), and decoding never panics.
#![no_main]

use cpchain_consensus::evidence::Evidence;
use cpchain_consensus::lbft::{Block, Certificate, Header, Message, Persisted, Validate, Vote};
use cpchain_core::encoding::{decode, encode_to_vec, WIRE_VERSION};
use cpchain_core::WireMessage;
use libfuzzer_sys::fuzz_target;

fn round_trip<M: WireMessage + core::fmt::Debug>(data: &[u8]) {
    if let Ok(msg) = decode::<M>(data) {
        let again = encode_to_vec(&msg).expect("a decoded message re-encodes");
        assert_eq!(
            again, data,
            "decode→encode is not byte-identical for {msg:?}"
        );
    }
}

fn all(data: &[u8]) {
    round_trip::<Message>(data);
    round_trip::<Validate>(data);
    round_trip::<Block>(data);
    round_trip::<Vote>(data);
    round_trip::<Persisted>(data);
    round_trip::<Certificate>(data);
    round_trip::<Header>(data);
    round_trip::<Evidence>(data);
}

fuzz_target!(|data: &[u8]| {
    all(data);
    // Retag the input for every type so the fuzzer reaches each body decoder quickly.
    if data.len() >= 4 {
        let mut v = data.to_vec();
        v[0] = WIRE_VERSION;
        for tag in 0x0200u16..=0x0208 {
            v[1..3].copy_from_slice(&tag.to_be_bytes());
            all(&v);
        }
    }
});
