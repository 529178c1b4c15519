//! Issue 15 item 4, configuration: a `proxy` section is refused where it cannot be
//! honoured: on a validator (proxies are followers), and on a node built without feature
//! `pre` (it could not check grants). Each node process exits with the reason.

mod common;

use common::*;
use std::time::Duration;

fn run_config(net: &Net, i: usize) -> (bool, String) {
    let out = run_bounded(
        &["run", "--config"],
        &[net.configs[i].as_path()],
        Duration::from_secs(20),
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_validator_with_a_proxy_section_refuses_to_start() {
    let net = Net::init_with("proxy-validator", 4, 0, 300, 3_000, false);
    net.make_proxy(0);
    let (ok, stderr) = run_config(&net, 0);
    assert!(!ok, "started: {stderr}");
    assert!(
        stderr.contains("a validator cannot have a `proxy` section"),
        "{stderr}"
    );
}

#[cfg(not(feature = "pre"))]
#[test]
fn a_proxy_section_without_feature_pre_refuses_to_start() {
    let net = Net::init_with("proxy-nopre", 4, 1, 300, 3_000, false);
    net.make_proxy(4);
    let (ok, stderr) = run_config(&net, 4);
    assert!(!ok, "started: {stderr}");
    assert!(
        stderr.contains("needs a node built with feature `pre`"),
        "{stderr}"
    );
}
