//! Decode every sharing and market message (capsules, kfrags, cfrags, wrapped keys, grants,
//! revokes, deliveries, requests, responses, listings) from arbitrary bytes: never a panic,
//! and whatever decodes re-encodes to exactly the input. Decoded kfrags, cfrags, grants and
//! listings are then run through their verifiers against fixed keys, which must not panic
//! either.
#![no_main]

use cpchain_core::encoding::{decode, encode_to_vec, WIRE_VERSION};
use cpchain_core::WireMessage;
use cpchain_crypto::pre::{Capsule, CapsuleFrag, KeyFrag, PreSecretKey, WrappedKey};
use cpchain_storage::market::{Listing, SignedListing};
use cpchain_storage::sharing::{
    CfragBody, CfragResponse, Grant, KfragDelivery, ReencryptionRequest, Revoke, SignedGrant,
    SignedRevoke,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn round_trip<M: WireMessage + core::fmt::Debug>(data: &[u8]) -> Option<M> {
    let msg = decode::<M>(data).ok()?;
    let again = encode_to_vec(&msg).expect("a decoded message re-encodes");
    assert_eq!(
        again, data,
        "decode→encode is not byte-identical for {msg:?}"
    );
    Some(msg)
}

struct Keys {
    a: cpchain_crypto::pre::PrePublicKey,
    b: cpchain_crypto::pre::PrePublicKey,
    capsule: Capsule,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let a = PreSecretKey::from_seed(&[1; 32]).unwrap().public_key();
        let b = PreSecretKey::from_seed(&[2; 32]).unwrap().public_key();
        let mut rng = FixedRng(3);
        let key = cpchain_crypto::aead::AeadKey::from_bytes([4; 32]);
        let capsule = cpchain_crypto::pre::wrap_key(&mut rng, &a, &key)
            .unwrap()
            .capsule()
            .clone();
        Keys { a, b, capsule }
    })
}

/// A deterministic RNG for the fixture (not for security).
struct FixedRng(u64);
impl rand_core::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for FixedRng {}

fn all(data: &[u8]) {
    let k = keys();
    round_trip::<Capsule>(data);
    round_trip::<WrappedKey>(data);
    if let Some(kf) = round_trip::<KeyFrag>(data) {
        let _ = kf.verify(&k.a, &k.a, &k.b);
    }
    if let Some(cf) = round_trip::<CapsuleFrag>(data) {
        let _ = cf.kfrag_id();
        let _ = cf.verify(&k.capsule, &k.a, &k.a, &k.b);
    }
    if let Some(g) = round_trip::<Grant>(data) {
        let _ = g.validate();
        let _ = g.delegating_key(g.last_interval);
    }
    if let Some(g) = round_trip::<SignedGrant>(data) {
        let _ = g.verify(337);
    }
    round_trip::<Revoke>(data);
    if let Some(r) = round_trip::<SignedRevoke>(data) {
        let _ = r.verify(337);
    }
    if let Some(d) = round_trip::<KfragDelivery>(data) {
        let _ = d.grant.verify(337);
    }
    round_trip::<ReencryptionRequest>(data);
    round_trip::<CfragBody>(data);
    if let Some(r) = round_trip::<CfragResponse>(data) {
        let _ = r.signer();
    }
    if let Some(l) = round_trip::<Listing>(data) {
        let _ = l.id();
    }
    if let Some(l) = round_trip::<SignedListing>(data) {
        let _ = l.verify(337);
    }
}

fuzz_target!(|data: &[u8]| {
    all(data);
    // Retag the input for every type so the fuzzer reaches each body decoder quickly.
    if data.len() >= 4 {
        let mut v = data.to_vec();
        v[0] = WIRE_VERSION;
        for tag in [
            0x0501u16, 0x0502, 0x0503, 0x0504, 0x0510, 0x0511, 0x0512, 0x0513, 0x0514, 0x0515,
            0x0516, 0x0517, 0x0520, 0x0521,
        ] {
            v[1..3].copy_from_slice(&tag.to_be_bytes());
            all(&v);
        }
    }
});
