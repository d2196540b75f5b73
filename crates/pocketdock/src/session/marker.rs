//! Finding the session's command-boundary markers in a stream of text.
//!
//! After each command the shell prints `__PD_<session>_<n>_<value>__` and a newline, on stdout
//! with the exit code as value and on stderr with `E`. Markers may arrive split across frames
//! and glued to output without a trailing newline; they never reach the user.

/// The longest `<seq>_<value>` a marker has (a sequence number and an exit code, or `E`):
/// a prefix followed by more without the end is plain text.
const MAX_BODY: usize = 48;

/// One marker seen in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) seq: u64,
    pub(crate) value: String,
}

/// Splits one stream into user text and markers.
#[derive(Debug)]
pub(crate) struct MarkerScanner {
    prefix: String,
    carry: String,
}

/// What one chunk of text held, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Marker(Marker),
}

impl MarkerScanner {
    pub(crate) fn new(session_id: &str) -> Self {
        MarkerScanner {
            prefix: format!("__PD_{session_id}_"),
            carry: String::new(),
        }
    }

    /// The shell line that prints a marker, for `seq`, with `value_expr` expanded by the shell.
    pub(crate) fn print_command(
        session_id: &str,
        seq: u64,
        value_expr: &str,
        to_stderr: bool,
    ) -> String {
        let redirect = if to_stderr { " >&2" } else { "" };
        format!("printf '__PD_{session_id}_{seq}_%s__\\n' \"{value_expr}\"{redirect}")
    }

    /// Feeds text; returns the text and markers now certain, holding back what may be the start
    /// of a marker.
    pub(crate) fn push(&mut self, text: &str) -> Vec<Piece> {
        self.carry.push_str(text);
        let mut pieces = Vec::new();
        loop {
            match self.carry.find(&self.prefix) {
                Some(start) => {
                    let after = start + self.prefix.len();
                    let Some(end) = self.carry[after..].find("__\n") else {
                        if self.carry.len() - after > MAX_BODY {
                            // Too long to be ours: text (so that nothing grows without bound).
                            self.release(after, &mut pieces);
                            continue;
                        }
                        // The marker is not complete yet: release what precedes it.
                        self.release(start, &mut pieces);
                        return pieces;
                    };
                    let body = self.carry[after..after + end].to_string();
                    self.release(start, &mut pieces);
                    let consumed = self.prefix.len() + end + 3;
                    let raw: String = self.carry.drain(..consumed).collect();
                    // Something shaped like a marker that is not one is the user's text.
                    pieces.push(match parse_body(&body) {
                        Some(marker) => Piece::Marker(marker),
                        None => Piece::Text(raw),
                    });
                }
                None => {
                    let keep = self.partial_prefix_len();
                    self.release(self.carry.len() - keep, &mut pieces);
                    return pieces;
                }
            }
        }
    }

    /// Everything still held back, as text (the stream has ended).
    pub(crate) fn finish(&mut self) -> Option<String> {
        (!self.carry.is_empty()).then(|| std::mem::take(&mut self.carry))
    }

    fn release(&mut self, upto: usize, pieces: &mut Vec<Piece>) {
        if upto > 0 {
            pieces.push(Piece::Text(self.carry.drain(..upto).collect()));
        }
    }

    /// Length of the longest end of `carry` that is a proper start of the prefix.
    fn partial_prefix_len(&self) -> usize {
        (1..self.prefix.len())
            .rev()
            .find(|&k| self.carry.ends_with(&self.prefix[..k]))
            .unwrap_or(0)
    }
}

/// `"<seq>_<value>"`.
fn parse_body(body: &str) -> Option<Marker> {
    let (seq, value) = body.split_once('_')?;
    Some(Marker {
        seq: seq.parse().ok()?,
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_in_pieces(input: &str, size: usize) -> Vec<Piece> {
        let mut s = MarkerScanner::new("abc");
        let mut out = Vec::new();
        let chars: Vec<char> = input.chars().collect();
        for piece in chars.chunks(size) {
            out.extend(s.push(&piece.iter().collect::<String>()));
        }
        if let Some(rest) = s.finish() {
            out.push(Piece::Text(rest));
        }
        // Merge adjacent text so chunkings compare equal.
        let mut merged: Vec<Piece> = Vec::new();
        for p in out {
            match (merged.last_mut(), p) {
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        merged
    }

    #[test]
    fn markers_are_found_however_the_text_is_split() {
        let input = "hello\nno newline__PD_abc_1_0__\n__PD_abc_2_127__\ntail __PD_ab";
        for size in 1..=9 {
            assert_eq!(
                scan_in_pieces(input, size),
                vec![
                    Piece::Text("hello\nno newline".into()),
                    Piece::Marker(Marker {
                        seq: 1,
                        value: "0".into()
                    }),
                    Piece::Marker(Marker {
                        seq: 2,
                        value: "127".into()
                    }),
                    Piece::Text("tail __PD_ab".into()),
                ],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_prefix_without_an_end_is_released_as_text() {
        let mut s = MarkerScanner::new("abc");
        let flood = "x".repeat(10_000);
        let mut text = String::new();
        for piece in s.push("__PD_abc_").into_iter().chain(s.push(&flood)) {
            match piece {
                Piece::Text(t) => text.push_str(&t),
                Piece::Marker(m) => panic!("no marker here: {m:?}"),
            }
        }
        assert!(
            s.carry.len() <= MAX_BODY + 16,
            "held back: {}",
            s.carry.len()
        );
        text.push_str(&s.finish().unwrap_or_default());
        assert_eq!(text, format!("__PD_abc_{flood}"));
    }

    proptest::proptest! {
        /// Any text without a marker, with markers put anywhere, split anywhere: the text comes
        /// back whole and the markers in order.
        #[test]
        fn text_and_markers_survive_any_split(
            parts in proptest::collection::vec(("[a-z_\\n_P D]{0,30}", 0u64..1000, "[0-9E]{1,3}"), 0..6),
            size in 1usize..40,
        ) {
            let mut input = String::new();
            let mut expected = Vec::new();
            for (text, seq, value) in &parts {
                // User text that never holds this session's prefix.
                let text = text.replace("__PD_abc", "__PD_abx");
                input.push_str(&text);
                if !text.is_empty() { expected.push(Piece::Text(text)); }
                input.push_str(&format!("__PD_abc_{seq}_{value}__\n"));
                expected.push(Piece::Marker(Marker { seq: *seq, value: value.clone() }));
            }
            let mut merged: Vec<Piece> = Vec::new();
            for p in expected {
                match (merged.last_mut(), p) {
                    (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                    (_, p) => merged.push(p),
                }
            }
            proptest::prop_assert_eq!(scan_in_pieces(&input, size), merged);
        }

        /// Hostile text: never a panic, and nothing is lost or invented.
        #[test]
        fn arbitrary_text_is_kept(input in "\\PC{0,200}", size in 1usize..20) {
            let text: String = scan_in_pieces(&input, size)
                .into_iter()
                .map(|p| match p {
                    Piece::Text(t) => t,
                    Piece::Marker(m) => format!("__PD_abc_{}_{}__\n", m.seq, m.value),
                })
                .collect();
            proptest::prop_assert_eq!(text, input);
        }
    }

    #[test]
    fn other_sessions_markers_are_plain_text() {
        assert_eq!(
            scan_in_pieces("__PD_xyz_1_0__\n", 4),
            vec![Piece::Text("__PD_xyz_1_0__\n".into())]
        );
    }

    #[test]
    fn print_command_produces_what_the_scanner_reads() {
        assert_eq!(
            MarkerScanner::print_command("abc", 7, "$?", true),
            "printf '__PD_abc_7_%s__\\n' \"$?\" >&2"
        );
    }
}
