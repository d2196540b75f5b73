//! Whole or not at all: uploaded files arrive under temporary names beside their destinations
//! and are renamed into place only once the whole upload has succeeded; after a failure what
//! there is of them goes. A transfer cut midway (a host file that shrinks, an engine that goes,
//! a full disk) leaves no partial file under any destination name.

use crate::container::Container;
use crate::error::{Error, Result};

/// Argument bytes per rename or removal command: far below any `ARG_MAX` and agent frame.
const BATCH_BYTES: usize = 64 * 1024;

/// A file uploaded under `partial`, to be renamed to `target` (full container paths).
#[derive(Debug, Clone)]
pub(super) struct Move {
    pub(super) partial: String,
    pub(super) target: String,
}

impl Container {
    /// Renames every uploaded partial file to its target, in order (as root, as the upload
    /// wrote them); after a failed upload or rename, removes what is left of the partials.
    pub(super) async fn put_in_place(&self, moves: &[Move], uploaded: Result<()>) -> Result<()> {
        let renamed = match uploaded {
            Ok(()) => self.rename_all(moves).await,
            Err(e) => Err(e),
        };
        if renamed.is_err() {
            let partials: Vec<&str> = moves.iter().map(|m| m.partial.as_str()).collect();
            for batch in batches(&partials, 1) {
                let argv = ["rm", "-f", "--"].into_iter().chain(batch.iter().copied());
                let _ = self.command_argv(argv).user("0").run().await;
            }
        }
        renamed
    }

    async fn rename_all(&self, moves: &[Move]) -> Result<()> {
        let words: Vec<&str> = moves
            .iter()
            .flat_map(|m| [m.partial.as_str(), m.target.as_str()])
            .collect();
        for batch in batches(&words, 2) {
            let r = self.rename_batch(batch).await?;
            // An agent from before many pairs per call takes one at a time.
            let r = if r.exit_code == 2 && batch.len() > 2 && self.agent_link().is_some() {
                let mut last = r;
                for pair in batch.chunks(2) {
                    last = self.rename_batch(pair).await?;
                    if !last.ok() {
                        break;
                    }
                }
                last
            } else {
                r
            };
            if !r.ok() {
                return Err(Error::Container {
                    container_id: self.id(),
                    detail: format!("putting uploaded files in place: {}", r.stderr.trim()),
                });
            }
        }
        Ok(())
    }

    /// Renames FROM TO pairs: with the agent's `rename` (the image needs no `mv`), else `mv`.
    async fn rename_batch(&self, pairs: &[&str]) -> Result<crate::ExecResult> {
        let argv: Vec<&str> = if self.agent_link().is_some() {
            [pocketdock_agent_protocol::AGENT_PATH, "rename"]
                .into_iter()
                .chain(pairs.iter().copied())
                .collect()
        } else {
            let script = r#"while [ $# -gt 1 ]; do mv -f -- "$1" "$2" || exit 1; shift 2; done"#;
            ["sh", "-c", script, "sh"]
                .into_iter()
                .chain(pairs.iter().copied())
                .collect()
        };
        self.command_argv(argv).user("0").run().await
    }
}

/// Splits `words` into runs of about [`BATCH_BYTES`], each a multiple of `group` words long.
fn batches<'a>(words: &'a [&'a str], group: usize) -> Vec<&'a [&'a str]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, group_words) in words.chunks(group).enumerate() {
        let size: usize = group_words.iter().map(|w| w.len() + 1).sum();
        let at = i * group;
        if bytes > 0 && bytes + size > BATCH_BYTES {
            out.push(&words[start..at]);
            (start, bytes) = (at, 0);
        }
        bytes += size;
    }
    if start < words.len() {
        out.push(&words[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_pairs_together_and_cover_everything_in_order() {
        let long = "x".repeat(40_000);
        let words = ["a", &long, "b", &long, "c", "d"];
        let got = batches(&words, 2);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|b| b.len() % 2 == 0));
        assert_eq!(got.concat(), words);
        assert!(batches(&[], 2).is_empty());
        let small: Vec<&str> = vec!["f"; 10];
        assert_eq!(batches(&small, 1), vec![&small[..]]);
    }
}
