//! Issue 12 item 7: `insecure-test-crypto` cannot reach a real build. A host crate that gets
//! the feature (here by asking for it directly, as feature unification would) without the
//! explicit `--cfg cpchain_insecure_test_crypto` fails to compile, with a message that says
//! why. The host crate is written to a temporary folder and checked by the same cargo, in
//! its own target folder (the first run checks cpchain-crypto's dependencies there, later
//! runs reuse them).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn host_crate_with_only_the_insecure_feature_does_not_compile() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = crate_dir.parent().unwrap();
    let host = std::env::temp_dir().join(format!("cpchain-fence-host-{}", std::process::id()));
    std::fs::create_dir_all(host.join("src")).unwrap();
    std::fs::write(
        host.join("Cargo.toml"),
        format!(
            "[package]\nname = \"fence-host\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[workspace]\n\n[dependencies]\n\
             cpchain-crypto = {{ path = {:?}, default-features = false, \
             features = [\"insecure-test-crypto\"] }}\n",
            crate_dir.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        host.join("src/main.rs"),
        "fn main() { assert!(!cpchain_crypto::INSECURE_TEST_CRYPTO); }\n",
    )
    .unwrap();
    // The workspace's lock file pins the same versions the SDK is tested with.
    std::fs::copy(workspace.join("Cargo.lock"), host.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--offline", "--quiet", "--manifest-path"])
        .arg(host.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(workspace.join("target").join("fence-host"))
        // Whatever the outer build was given: the host gets no opt-in.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&host);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a host crate built with insecure-test-crypto and no opt-in"
    );
    assert!(
        stderr.contains("without the explicit opt-in")
            && stderr.contains("--cfg cpchain_insecure_test_crypto"),
        "failed, but not at the fence:\n{stderr}"
    );
}
