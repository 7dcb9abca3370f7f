//! Replays every saved fuzzing input through the check of the fuzz target that produced it (see
//! `docs/reliability.md`, "Fuzzing"): the inputs that once crashed or hung, kept after the fix,
//! and a small minimized corpus of interesting inputs.
//!
//! Inputs live in `tests/fuzz-regressions/<target>/`, one file each; `scripts/fuzz.sh` copies new
//! crashes there.

mod fuzzing;

#[test]
fn decode_embed_inputs() {
    let dir = env!("CARGO_MANIFEST_DIR");
    tympan_testkit::fuzz::replay_target(dir, "decode_embed", fuzzing::decode_embed);
}

#[test]
fn synthetic_clips_embed() {
    // The fitted fuzzing embedding itself: every clip it was fitted on embeds to finite values.
    for i in 0..40 {
        fuzzing::decode_embed(&fuzzing::synthetic_clip(i));
    }
    assert_eq!(fuzzing::embedder().dim(), fuzzing::FUZZ_COMPONENTS);
}
