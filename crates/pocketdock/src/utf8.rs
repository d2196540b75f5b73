//! Incremental UTF-8 decoding for output that arrives in arbitrary chunks.
//!
//! A character split across two engine frames must come out whole, and an invalid sequence must
//! become exactly one U+FFFD — the same text `String::from_utf8_lossy` gives for the whole output,
//! however it was chunked.

/// Decodes a byte stream chunk by chunk, holding back an incomplete trailing character.
#[derive(Debug, Default)]
pub(crate) struct Utf8Decoder {
    /// At most three bytes: the start of a character whose rest has not arrived yet.
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// The text of every complete character in `pending + bytes`.
    pub(crate) fn decode(&mut self, bytes: &[u8]) -> String {
        if self.pending.is_empty() {
            let (text, rest) = decode_complete(bytes);
            self.pending.extend_from_slice(rest);
            text
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(bytes);
            let (text, rest) = decode_complete(&joined);
            self.pending = rest.to_vec();
            text
        }
    }

    /// Ends the stream: an incomplete character left over becomes one U+FFFD.
    pub(crate) fn finish(&mut self) -> String {
        let pending = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&pending).into_owned()
    }
}

/// Decodes `bytes` lossily up to an incomplete trailing character, which is returned undecoded.
fn decode_complete(bytes: &[u8]) -> (String, &[u8]) {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return (out, &[]);
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // SAFETY-free: from_utf8 just told us this prefix is valid.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    Some(bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        rest = &after[bad..];
                    }
                    None => return (out, after),
                }
            }
        }
    }
}

/// The longest prefix of `bytes` that does not end inside a UTF-8 character (an invalid byte
/// counts as complete). Used to truncate output without cutting a character in half.
pub(crate) fn complete_prefix_len(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => {
            let tail = &bytes[e.valid_up_to()..];
            match e.error_len() {
                None => e.valid_up_to(),
                Some(bad) => e.valid_up_to() + bad + complete_prefix_len(&tail[bad..]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(bytes: &[u8], sizes: &[usize]) -> String {
        let mut d = Utf8Decoder::default();
        let mut out = String::new();
        let mut rest = bytes;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            out.push_str(&d.decode(&rest[..n]));
            rest = &rest[n..];
            i += 1;
        }
        out.push_str(&d.finish());
        out
    }

    #[test]
    fn split_characters_come_out_whole() {
        let text = "€uro 😀 ß".repeat(50);
        for size in 1..=7 {
            assert_eq!(decode_in_chunks(text.as_bytes(), &[size]), text);
        }
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each_whatever_the_chunking() {
        let cases: &[&[u8]] = &[
            b"ok\xffok",
            b"\xe2\x82",             // truncated euro at the very end
            b"a\xe2\x82b",           // truncated euro in the middle
            b"\xf0\x9f\x98",         // truncated emoji
            b"\xc0\xaf\xed\xa0\x80", // overlong and surrogate
            b"\x80\x80\x80",
        ];
        for bytes in cases {
            let expected = String::from_utf8_lossy(bytes).into_owned();
            for size in 1..=5 {
                assert_eq!(
                    decode_in_chunks(bytes, &[size]),
                    expected,
                    "{bytes:?} by {size}"
                );
            }
        }
    }

    #[test]
    fn matches_lossy_decoding_on_pseudo_random_input() {
        // A small deterministic generator: no dev-dependency needed for a property-style test.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let len = (next() % 64) as usize;
            let pool: &[u8] = b"a\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xff\x80";
            let bytes: Vec<u8> = (0..len)
                .map(|_| pool[(next() % pool.len() as u64) as usize])
                .collect();
            let sizes = [(next() % 5 + 1) as usize, (next() % 3 + 1) as usize];
            assert_eq!(
                decode_in_chunks(&bytes, &sizes),
                String::from_utf8_lossy(&bytes),
                "{bytes:?} {sizes:?}"
            );
        }
    }

    #[test]
    fn complete_prefix_never_ends_inside_a_character() {
        assert_eq!(complete_prefix_len(b"abc"), 3);
        assert_eq!(complete_prefix_len("a€".as_bytes()), 4);
        assert_eq!(complete_prefix_len(&"a€".as_bytes()[..3]), 1);
        assert_eq!(complete_prefix_len(b"a\xffb"), 3);
        assert_eq!(complete_prefix_len(b"a\xff\xe2\x82"), 2);
    }

    proptest::proptest! {
        /// However the bytes are split, the decoded text is the same as decoding them whole,
        /// and valid UTF-8 comes back exactly.
        #[test]
        fn splitting_never_changes_the_text(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let whole = {
                let mut d = Utf8Decoder::default();
                let mut s = d.decode(&bytes);
                s.push_str(&d.finish());
                s
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut d = Utf8Decoder::default();
            let (mut text, mut from) = (String::new(), 0);
            for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
                text.push_str(&d.decode(&bytes[from..cut]));
                from = cut;
            }
            text.push_str(&d.finish());
            proptest::prop_assert_eq!(&text, &whole);
            if let Ok(valid) = std::str::from_utf8(&bytes) {
                proptest::prop_assert_eq!(text.as_str(), valid);
            }
        }
    }
}
