//! Finding the session's command-boundary markers in a stream of text.
//!
//! After each command the shell prints `__PD_<session>_<n>_<value>__` and a newline, on stdout
//! with the exit code as value and on stderr with `E`. Markers may arrive split across frames
//! and glued to output without a trailing newline; they never reach the user.

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
                        // The marker is not complete yet: release what precedes it.
                        self.release(start, &mut pieces);
                        return pieces;
                    };
                    let body = self.carry[after..after + end].to_string();
                    self.release(start, &mut pieces);
                    let consumed = self.prefix.len() + end + 3;
                    self.carry.drain(..consumed);
                    if let Some(marker) = parse_body(&body) {
                        pieces.push(Piece::Marker(marker));
                    }
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
