//! Issue 14: transaction encodings are frozen byte for byte. The encodings below were taken
//! from `main` before the payload fields (`TransferData.data`, `Grant.record`,
//! `Revoke.record`) went through serde as bytes rather than as sequences; postcard writes
//! both forms identically (varint length, raw bytes), and these tests hold it to that.

use cpchain_core::{Address, ChainSpec};
use cpchain_crypto::SecretKey;
use cpchain_node::tx::{Transaction, TxBody, TxKind};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check(name: &str, kind: TxKind, golden: &str) {
    let key = SecretKey::from_bytes(&[0x42; 32]).unwrap();
    let tx = Transaction::sign(
        &key,
        TxBody {
            chain_id: ChainSpec::devnet().chain_id,
            nonce: 300,
            kind,
        },
    );
    let bytes = tx.to_bytes();
    if std::env::var_os("WIRE_GOLDEN_PRINT").is_some() {
        println!("{name} {}", hex(&bytes));
        return;
    }
    assert_eq!(hex(&bytes), golden, "{name}: encoding changed");
    assert_eq!(
        Transaction::from_bytes(&bytes).unwrap(),
        tx,
        "{name}: round trip"
    );
    assert_eq!(tx.sender().unwrap(), key.public_key().address());
}

/// Issue 14's 200-byte transfer (107 bytes of payload) and the byte-string kinds of the
/// data ledger, with one- and two-byte length varints.
#[test]
fn transfer_data_grant_and_revoke_encode_as_on_main() {
    let data: Vec<u8> = (0..107u8).collect();
    check(
        "transfer_data",
        TxKind::TransferData {
            to: Address([9; 20]),
            amount: 1_000_000,
            data,
        },
        GOLDEN_TRANSFER_DATA,
    );
    check(
        "transfer_data_empty",
        TxKind::TransferData {
            to: Address([9; 20]),
            amount: 1,
            data: Vec::new(),
        },
        GOLDEN_TRANSFER_DATA_EMPTY,
    );
    check(
        "grant",
        TxKind::Grant {
            record: (0..200u8).collect(),
        },
        GOLDEN_GRANT,
    );
    check(
        "revoke",
        TxKind::Revoke { record: vec![7; 3] },
        GOLDEN_REVOKE,
    );
}

const GOLDEN_TRANSFER_DATA: &str = "010a0129ac02030909090909090909090909090909090909090909c0843d6b000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a26457f8531ea90fa408ff3498be04906d30c01542d64939d20f9a5b56d5a3ea51b38ee2f50a685ba0e214216ff23ae57a8d9c018ece857ba99d387b5463939a600";
const GOLDEN_TRANSFER_DATA_EMPTY: &str = "010a0129ac020309090909090909090909090909090909090909090100777f281ce74d438755f40a1054dd383cae67ebe64c882cdf06315c7851500b31758e71e3f4025829246eb9cb5d754b1afccb2b5ccd55c8290ebf9f9305fda79901";
const GOLDEN_GRANT: &str = "010a0129ac0206c801000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c80a89b121794376a4a5d241073928f8b1830245419990d7ca406ab1a027aa4507b5ce40334480ac326a09b21470cc91750a7dadf6ca1aa9a735a7ef39942b2c00";
const GOLDEN_REVOKE: &str = "010a0129ac020703070707abd0b7fc08408027a1a36396b8115d47541f03739a5edbfd4a1f9cb239283a547d14005dc607d6448791bdb7d745b248489a45594a70a20045f5a77b33f1a41b01";
