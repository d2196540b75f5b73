//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the parsers of untrusted
//! bytes, reachable from outside the crate. Not part of the API.

use std::path::Path;

/// Extracts `archive` at `dest` as `pull` does.
pub fn extract_archive(archive: &[u8], dest: &Path) -> crate::Result<()> {
    crate::files::fuzz_extract(archive, dest)
}

/// Scans `text` for session markers in pieces of `split` characters; returns the text kept.
pub fn scan_markers(text: &str, split: usize) -> String {
    let mut scanner = crate::session::marker::MarkerScanner::new("fuzz");
    let chars: Vec<char> = text.chars().collect();
    let mut kept = String::new();
    for piece in chars.chunks(split.max(1)) {
        for p in scanner.push(&piece.iter().collect::<String>()) {
            if let crate::session::marker::Piece::Text(t) = p {
                kept.push_str(&t);
            }
        }
    }
    kept.push_str(&scanner.finish().unwrap_or_default());
    kept
}

/// Decodes output bytes given in `pieces`.
pub fn decode_utf8(pieces: &[&[u8]]) -> String {
    let mut decoder = crate::utf8::Utf8Decoder::default();
    let mut text: String = pieces.iter().map(|p| decoder.decode(p)).collect();
    text.push_str(&decoder.finish());
    text
}
