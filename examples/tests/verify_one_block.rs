//! The `verify_one_block` example under `cargo test`: every step of it asserts, so running
//! it is the test (issue 13 item 8: an example verifies a single block in the middle of a
//! chain).

#[path = "../verify_one_block.rs"]
mod example;

#[test]
fn verify_one_block_example_passes_its_checks() {
    example::main().expect("every light check in the example holds");
}
