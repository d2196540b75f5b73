//! Output bytes in arbitrary pieces: decoding split or whole gives the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(1, |b| usize::from(*b % 8).max(1));
    let whole = pocketdock::fuzzing::decode_utf8(&[data]);
    let pieces: Vec<&[u8]> = data.chunks(split).collect();
    assert_eq!(pocketdock::fuzzing::decode_utf8(&pieces), whole);
});
