//! The bounded output buffer of a detached process: a ring per stream that evicts its oldest
//! text, never half a character.

use std::collections::VecDeque;

use crate::types::{BufferSnapshot, StreamKind};

/// Bounded text of one stream. Always holds valid UTF-8: text is appended whole and evicted at
/// character boundaries.
#[derive(Debug)]
struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl Ring {
    fn new(capacity: usize) -> Self {
        Ring {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `text`; returns whether older text had to be evicted.
    fn push(&mut self, text: &str) -> bool {
        let mut text = text.as_bytes();
        let mut evicted = false;
        if text.len() > self.capacity {
            let mut cut = text.len() - self.capacity;
            while cut < text.len() && is_continuation(text[cut]) {
                cut += 1;
            }
            text = &text[cut..];
            evicted = true;
        }
        let overflow = (self.bytes.len() + text.len()).saturating_sub(self.capacity);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            while self.bytes.front().is_some_and(|b| is_continuation(*b)) {
                self.bytes.pop_front();
            }
            evicted = true;
        }
        self.bytes.extend(text);
        evicted
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    fn take(&mut self) -> String {
        let text = self.text();
        self.bytes.clear();
        text
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0b1100_0000 == 0b1000_0000
}

/// Both streams of a detached process, each with half of the total capacity.
#[derive(Debug)]
pub(crate) struct OutputBuffer {
    stdout: Ring,
    stderr: Ring,
    overflowed: bool,
}

impl OutputBuffer {
    pub(crate) fn new(total_capacity: usize) -> Self {
        let half = (total_capacity / 2).max(4);
        OutputBuffer {
            stdout: Ring::new(half),
            stderr: Ring::new(half),
            overflowed: false,
        }
    }

    pub(crate) fn push(&mut self, kind: StreamKind, text: &str) {
        let ring = match kind {
            StreamKind::Stdout => &mut self.stdout,
            StreamKind::Stderr => &mut self.stderr,
        };
        self.overflowed |= ring.push(text);
    }

    /// Everything buffered, which is then cleared.
    pub(crate) fn drain(&mut self) -> BufferSnapshot {
        BufferSnapshot {
            stdout: self.stdout.take(),
            stderr: self.stderr.take(),
        }
    }

    /// Everything buffered, left in place.
    pub(crate) fn peek(&self) -> BufferSnapshot {
        BufferSnapshot {
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }

    /// Bytes currently held, both streams together.
    pub(crate) fn len(&self) -> usize {
        self.stdout.bytes.len() + self.stderr.bytes.len()
    }

    /// Whether any output was ever evicted unread.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_of_each_stream() {
        let mut b = OutputBuffer::new(20);
        b.push(StreamKind::Stdout, "0123456789");
        b.push(StreamKind::Stderr, "err");
        assert!(!b.overflowed());
        b.push(StreamKind::Stdout, "abc");
        assert!(b.overflowed());
        assert_eq!(b.peek().stdout, "3456789abc");
        assert_eq!(b.peek().stderr, "err");
        assert_eq!(b.len(), 13);
    }

    #[test]
    fn drain_empties_peek_does_not() {
        let mut b = OutputBuffer::new(100);
        b.push(StreamKind::Stdout, "hello\n");
        assert_eq!(b.peek().stdout, "hello\n");
        assert_eq!(b.len(), 6);
        let s = b.drain();
        assert_eq!((s.stdout.as_str(), s.stderr.as_str()), ("hello\n", ""));
        assert_eq!(b.len(), 0);
        assert_eq!(b.drain().stdout, "");
    }

    #[test]
    fn eviction_never_splits_a_character() {
        let mut b = OutputBuffer::new(10); // 5 bytes per stream
        b.push(StreamKind::Stdout, "€€"); // 6 bytes: must keep one whole euro
        assert_eq!(b.peek().stdout, "€");
        b.push(StreamKind::Stdout, "ab");
        assert_eq!(b.peek().stdout, "€ab");
        b.push(StreamKind::Stdout, "c");
        assert_eq!(b.peek().stdout, "abc");
        assert!(b.overflowed());
    }

    #[test]
    fn a_single_huge_push_keeps_its_tail() {
        let mut b = OutputBuffer::new(8);
        b.push(StreamKind::Stderr, "abcdefghij");
        assert_eq!(b.peek().stderr, "ghij");
        assert!(b.overflowed());
    }
}
