//! The end-to-end demo's story, through the same function `cargo run --example demo`
//! prints: every fact the output claims is checked here, so CI guards the README's main job.

use cpchain_examples::story::{self, Story, DEFAULT_SEED};

fn run(seed: u64) -> (Story, String) {
    let mut out = Vec::new();
    let story = match story::run(seed, &mut out) {
        Ok(s) => s,
        Err(e) => panic!("the demo failed: {e}\n{}", String::from_utf8_lossy(&out)),
    };
    (story, String::from_utf8_lossy(&out).into_owned())
}

#[test]
fn demo_story_holds_and_is_reproducible() {
    let (s, text) = run(DEFAULT_SEED);

    // 1. The gateway: four encryption intervals of 1 Hz readings, 10 s blocks, 30 s anchors.
    assert_eq!(s.readings, 240);
    assert_eq!(s.blocks, 24);
    assert_eq!(s.anchors, 8);

    // 2. LBFT with mainnet parameters: a full term committed, every anchor on chain, the
    //    silent proposer impeached at each of its slots and only there.
    assert_eq!(s.heights, 36);
    assert_eq!(s.anchors_on_chain, s.anchors);
    assert!(s.validators_agree);
    assert_eq!(s.impeached_heights, vec![4, 16, 28]);
    assert!(s.impeach_blocks_name_silent);

    // 3. The granted interval opens and reads back exactly what the sensor produced; the
    //    other interval is refused by the grantee, a proxy and the reader; the anchor's
    //    VALIDATE passes light verification.
    assert_eq!(s.granted_readings, 60);
    assert!(s.granted_readings_match);
    assert!(s.other_interval_refused);
    assert!(s.light_verified);

    // 4. The impeachments cost the silent proposer RPT; the committee has 12 distinct seats.
    assert!(s.silent_punished);
    assert_eq!(s.committee.len(), 12);
    assert_eq!(s.committee_distinct, 12);

    // Same seed, same story, byte for byte.
    let (again, text_again) = run(DEFAULT_SEED);
    assert_eq!(again, s);
    assert_eq!(text_again, text);
}
