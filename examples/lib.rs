//! Shared helpers of the SDK's runnable examples (`cargo run --release --example quickstart`)
//! and the end-to-end demo's flow ([`story`], run by `cargo run --release --example demo`
//! and checked by `tests/demo_story.rs`).

pub mod story;

/// Print a section heading, so example output reads as a story.
pub fn section(title: &str) {
    println!("\n== {title}");
}
