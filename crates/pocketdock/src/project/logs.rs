//! Reading an instance's history and logs (what `pocketdock logs` shows).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::instance::LOGS_DIR;
use crate::error::{Error, Result};

/// One line per blocking run, in the instance directory.
pub(crate) const HISTORY_FILE: &str = "history.jsonl";

/// One line of `history.jsonl`: a blocking run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Always `"run"` today.
    #[serde(rename = "type", default = "run_kind")]
    pub kind: String,
    pub command: String,
    pub exit_code: i64,
    pub duration_ms: f64,
    pub timed_out: bool,
    /// When the run started, RFC 3339 (UTC).
    pub timestamp: String,
    /// File name of the run's log under `logs/`, if one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

fn run_kind() -> String {
    "run".into()
}

/// The last `limit` runs (all with `None`), oldest first. A missing history is empty; lines that
/// do not parse (a line being written right now) are skipped. Reads `history.jsonl.1` too when
/// the current file holds fewer than `limit`, and the reference's `logs/history.jsonl` when the
/// instance has no history of its own.
pub fn read_history(instance_dir: &Path, limit: Option<usize>) -> Result<Vec<HistoryEntry>> {
    let current = instance_dir.join(HISTORY_FILE);
    let legacy = instance_dir.join(LOGS_DIR).join(HISTORY_FILE);
    let current = if !current.exists() && legacy.exists() {
        legacy
    } else {
        current
    };
    let mut entries = read_lines(&current)?;
    if limit.is_none_or(|l| entries.len() < l) {
        let mut older = read_lines(&instance_dir.join(format!("{HISTORY_FILE}.1")))?;
        older.append(&mut entries);
        entries = older;
    }
    if let Some(limit) = limit {
        let skip = entries.len().saturating_sub(limit);
        entries.drain(..skip);
    }
    Ok(entries)
}

fn read_lines(path: &Path) -> Result<Vec<HistoryEntry>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::host_file(path, e)),
    }
}

/// What a log file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// One blocking run: command, exit code, duration, stdout, stderr.
    Run,
    /// One session: the commands sent and the output received.
    Session,
    /// One detached process: its output as it arrived, then its exit code.
    Detach,
}

impl LogKind {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            LogKind::Run => "run",
            LogKind::Session => "session",
            LogKind::Detach => "detach",
        }
    }
}

/// A log file of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFile {
    pub path: PathBuf,
    pub kind: LogKind,
    /// When it was started, as in its name (`2024-01-02T03-04-05.123456p00-00`).
    pub started: String,
    /// Size in bytes.
    pub size: u64,
}

/// The run, session and detached logs under `<instance_dir>/logs/`, oldest first; other files
/// there are ignored. A missing directory has none.
pub fn list_log_files(instance_dir: &Path) -> Result<Vec<LogFile>> {
    let dir = instance_dir.join(LOGS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::host_file(&dir, e)),
    };
    let mut files: Vec<LogFile> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let (kind, started) = parse_log_name(&name)?;
            Some(LogFile {
                kind,
                started: started.to_string(),
                size: e.metadata().ok()?.len(),
                path: e.path(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.started.cmp(&b.started).then(a.path.cmp(&b.path)));
    Ok(files)
}

/// `run-<stamp>.log` → (Run, stamp).
pub(crate) fn parse_log_name(name: &str) -> Option<(LogKind, &str)> {
    let stem = name.strip_suffix(".log")?;
    let (prefix, stamp) = stem.split_once('-')?;
    let kind = match prefix {
        "run" => LogKind::Run,
        "session" => LogKind::Session,
        "detach" => LogKind::Detach,
        _ => return None,
    };
    stamp
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some((kind, stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_entries_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let line = |c: &str| {
            format!(
                "{{\"type\":\"run\",\"command\":\"{c}\",\"exit_code\":0,\"duration_ms\":1.5,\"timed_out\":false,\"timestamp\":\"t\"}}\n"
            )
        };
        assert!(read_history(dir.path(), None).unwrap().is_empty());
        std::fs::write(dir.path().join("history.jsonl.1"), line("a") + &line("b")).unwrap();
        std::fs::write(
            dir.path().join("history.jsonl"),
            line("c") + &line("d") + "{\"type\":\"ru",
        )
        .unwrap();
        let commands = |limit| {
            read_history(dir.path(), limit)
                .unwrap()
                .into_iter()
                .map(|e| e.command)
                .collect::<Vec<_>>()
        };
        assert_eq!(commands(Some(2)), ["c", "d"]);
        assert_eq!(commands(Some(3)), ["b", "c", "d"]);
        assert_eq!(commands(None), ["a", "b", "c", "d"]);
    }

    #[test]
    fn reads_the_references_history_location() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(
            dir.path().join("logs/history.jsonl"),
            "{\"type\": \"run\", \"command\": \"ls\", \"exit_code\": 2, \"duration_ms\": 3.0, \"timed_out\": true, \"timestamp\": \"2024-01-01T00:00:00+00:00\"}\n",
        )
        .unwrap();
        let h = read_history(dir.path(), Some(10)).unwrap();
        assert_eq!(
            (h[0].command.as_str(), h[0].exit_code, h[0].timed_out),
            ("ls", 2, true)
        );
    }

    #[test]
    fn lists_log_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        for name in [
            "session-2024-01-02T00-00-00.000000p00-00.log",
            "run-2024-01-01T00-00-00.000000p00-00.log",
            "detach-2024-01-03T00-00-00.000000p00-00.log",
            "run-2024-01-01T00-00-00.000000p00-00-1.log",
            "history.jsonl",
            "notes.log",
        ] {
            std::fs::write(logs.join(name), "abc").unwrap();
        }
        let files = list_log_files(dir.path()).unwrap();
        let kinds: Vec<LogKind> = files.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                LogKind::Run,
                LogKind::Run,
                LogKind::Session,
                LogKind::Detach
            ]
        );
        assert_eq!(files[0].size, 3);
        assert!(files[1]
            .path
            .ends_with("run-2024-01-01T00-00-00.000000p00-00-1.log"));
        assert!(list_log_files(&dir.path().join("nope")).unwrap().is_empty());
    }
}
