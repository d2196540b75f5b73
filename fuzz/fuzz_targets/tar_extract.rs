//! An archive from the container, as `pull` receives it: whatever it holds, nothing is written
//! outside the destination and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    let _ = pocketdock::fuzzing::extract_archive(data, &dir.path().join("dest"));
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0);
});
