//! Quickstart: a device identity, a domain-separated signature, a recovery and an
//! authenticated seal/open, the primitives every other part of the SDK stands on.
//!
//! Run: `cargo run --release --example quickstart`

use cpchain_core::{encoding, ChainSpec};
use cpchain_crypto::aead::{open_in_place, seal_in_place, AeadKey, Nonce};
use cpchain_crypto::{keccak256, Domain, SecretKey};
use cpchain_examples::section;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A seeded RNG: the SDK never reads OS randomness, so the run is reproducible.
    let mut rng = ChaCha20Rng::seed_from_u64(337);
    let spec = ChainSpec::mainnet();
    spec.validate()?;

    section("identity");
    let device = SecretKey::random(&mut rng);
    let public = device.public_key();
    println!("device address (EIP-55): {}", public.address());
    println!("device key Debug never shows the secret: {device:?}");

    section("domain-separated signature and recovery");
    let domain = Domain::new("cpchain/quickstart/reading/v1");
    let mut payload = spec.chain_id.to_le_bytes().to_vec();
    payload.extend_from_slice(b"temperature=21.5C");
    let sig = device.sign(&domain, &payload);
    println!("signature (r||s||v, low-s): 0x{}", hex(&sig.to_bytes()));
    let signer = sig.recover_signer(&domain, &payload)?;
    println!("recovered signer:            {signer}");
    assert_eq!(signer, public.address());
    let other = Domain::new("cpchain/quickstart/other/v1");
    let replayed = sig.recover_signer(&other, &payload)?;
    println!("same signature under another domain recovers {replayed} (not the device)");

    section("ChaCha20-Poly1305 seal and open in place");
    let key = AeadKey::from_bytes(keccak256(b"quickstart interval key").0);
    let nonce = Nonce([0u8; 12]);
    let header = keccak256(&payload);
    let mut buf = b"21.5C 21.6C 21.4C".to_vec();
    seal_in_place(&key, &nonce, header.as_bytes(), &mut buf)?;
    println!("sealed {} bytes (16-byte tag included)", buf.len());
    let mut tampered = buf.clone();
    if let Some(b) = tampered.first_mut() {
        *b ^= 1;
    }
    let refused = open_in_place(&key, &nonce, header.as_bytes(), &mut tampered);
    println!("tampered ciphertext: {refused:?}");
    open_in_place(&key, &nonce, header.as_bytes(), &mut buf)?;
    println!("opened: {}", String::from_utf8_lossy(&buf));

    section("wire format");
    let bytes = encoding::encode_to_vec(&spec)?;
    let back: ChainSpec = encoding::decode(&bytes)?;
    println!(
        "mainnet ChainSpec encodes to {} bytes and decodes back equal: {}",
        bytes.len(),
        back == spec
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
