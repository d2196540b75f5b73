//! A session's output, as the container writes it: the marker scanner keeps every byte of text
//! and never panics, however the text is split.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let split = data.first().map_or(1, |b| usize::from(*b % 16).max(1));
    let _ = pocketdock::fuzzing::scan_markers(&text, split);
});
