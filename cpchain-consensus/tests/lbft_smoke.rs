//! Smoke test.
mod common;
use common::*;

#[test]
fn smoke_normal_case_n4() {
    let mut net = Net::new(Fixture::new(4), vec![Role::Honest; 4]);
    assert!(net.run(3, 50), "{:?}", net.decided);
    net.assert_agreement();
    println!("{:?}", net.decided[0]);
}
