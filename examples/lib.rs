//! Shared helpers of the SDK's runnable examples (`cargo run --release --example quickstart`).

/// Print a section heading, so example output reads as a story.
pub fn section(title: &str) {
    println!("\n== {title}");
}
