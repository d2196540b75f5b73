//! Writing an instance's logs: one file per blocking run, per session and per detached process
//! under `logs/`, and one `history.jsonl` line per blocking run.
//!
//! Logging never fails what it logs: I/O errors are `tracing` warnings. Writes are plain appends
//! (no fsync, no buffering that would hide output from a reader following the file). Each file
//! stops at `max_log_size` with a note; `history.jsonl` rolls over to `history.jsonl.1` there.
//! Past `max_logs_per_instance` files the oldest go, and files older than `retention_days` are
//! deleted — checked when a file is added and the count is over, or at most hourly.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::config::ProjectConfig;
use super::instance::LOGS_DIR;
use super::logs::{parse_log_name, HistoryEntry, LogKind, HISTORY_FILE};
use crate::types::{ExecResult, StreamKind};

/// How often retention is enforced when nothing else triggers a sweep.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The logging settings of a project, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// Largest size of one file, in bytes.
    pub(crate) max_size: u64,
    /// Most files kept under `logs/`; 0 keeps all.
    pub(crate) max_files: usize,
    /// Files older than this many days are deleted; 0 keeps them.
    pub(crate) retention_days: u32,
}

/// The logger of one instance directory.
#[derive(Debug)]
pub(crate) struct InstanceLog {
    dir: PathBuf,
    settings: LogSettings,
    state: Mutex<SweepState>,
    /// One warning per logger is enough; later failures are debug messages.
    warned: AtomicBool,
}

#[derive(Debug, Default)]
struct SweepState {
    /// Files under `logs/` as of the last sweep plus those added since; `None` before a sweep.
    files: Option<usize>,
    last_sweep: Option<Instant>,
}

impl InstanceLog {
    /// The logger of `dir` with the project's settings; `None` with `auto_log: false`.
    pub(crate) fn open(dir: PathBuf, config: &ProjectConfig) -> Option<InstanceLog> {
        LogSettings::from_config(config).map(|settings| InstanceLog::new(dir, settings))
    }

    pub(crate) fn new(dir: PathBuf, settings: LogSettings) -> InstanceLog {
        InstanceLog {
            dir,
            settings,
            state: Mutex::new(SweepState::default()),
            warned: AtomicBool::new(false),
        }
    }

    /// Records a finished blocking run: `logs/run-<time>.log` and a `history.jsonl` line.
    pub(crate) fn log_run(&self, command: &str, result: &ExecResult, started: DateTime<Utc>) {
        let log = match self.new_file(LogKind::Run, started) {
            Ok((path, mut file)) => {
                let text = run_log_text(command, result, self.settings.max_size);
                if let Err(e) = file.write_all(text.as_bytes()) {
                    self.warn(&path, &e);
                }
                path.file_name().map(|n| n.to_string_lossy().into_owned())
            }
            Err(e) => {
                self.warn(&self.logs_dir(), &e);
                None
            }
        };
        self.append_history(&HistoryEntry {
            kind: "run".into(),
            command: command.to_string(),
            exit_code: result.exit_code,
            duration_ms: (result.duration_ms * 10.0).round() / 10.0,
            timed_out: result.timed_out,
            timestamp: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            log,
        });
    }

    /// A log for a new session: `logs/session-<time>.log`.
    pub(crate) fn session(&self, session_id: &str) -> Option<SessionLog> {
        let writer = self.writer(LogKind::Session, &format!("# session_id: {session_id}\n\n"))?;
        Some(SessionLog { writer })
    }

    /// A log for a new detached process: `logs/detach-<time>.log`.
    pub(crate) fn detached(&self, command: &str) -> Option<DetachLog> {
        let writer = self.writer(
            LogKind::Detach,
            &format!("{}\n\n", header("command", command)),
        )?;
        Some(DetachLog {
            writer,
            started: Instant::now(),
        })
    }

    fn writer(&self, kind: LogKind, header: &str) -> Option<LogWriter> {
        match self.new_file(kind, Utc::now()) {
            Ok((path, file)) => {
                let writer = LogWriter {
                    path,
                    limit: self.settings.max_size,
                    state: Mutex::new(WriterState {
                        file: Some(file),
                        written: 0,
                    }),
                };
                writer.write(header);
                Some(writer)
            }
            Err(e) => {
                self.warn(&self.logs_dir(), &e);
                None
            }
        }
    }

    fn logs_dir(&self) -> PathBuf {
        self.dir.join(LOGS_DIR)
    }

    /// Creates `logs/<kind>-<time>.log` (never reusing a name), then keeps the directory within
    /// its limits.
    fn new_file(&self, kind: LogKind, at: DateTime<Utc>) -> std::io::Result<(PathBuf, File)> {
        let logs = self.logs_dir();
        let stem = format!("{}-{}", kind.prefix(), file_timestamp(at));
        let created = create_unique(&logs, &stem).or_else(|e| {
            // `logs/` removed by hand inside an instance dir that is still there: make it again.
            if e.kind() == std::io::ErrorKind::NotFound && self.dir.is_dir() {
                std::fs::create_dir(&logs)?;
                create_unique(&logs, &stem)
            } else {
                Err(e)
            }
        })?;
        self.added_file(&created.0);
        Ok(created)
    }

    /// Counts a new file; sweeps when over the limit or when the last sweep is old.
    fn added_file(&self, keep: &Path) {
        let due = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let files = state.files.map(|n| n + 1);
            state.files = files;
            let over = match files {
                None => true,
                Some(n) => self.settings.max_files > 0 && n > self.settings.max_files,
            };
            over || state.last_sweep.is_none_or(|t| t.elapsed() > SWEEP_EVERY)
        };
        if due {
            self.sweep(keep);
        }
    }

    /// Deletes files past retention, then the oldest past the count limit (never `keep`, the
    /// file just created).
    fn sweep(&self, keep: &Path) {
        let logs = self.logs_dir();
        let mut files: Vec<(String, PathBuf)> = match std::fs::read_dir(&logs) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    let (_, stamp) = parse_log_name(&name)?;
                    Some((stamp.to_string(), e.path()))
                })
                .collect(),
            Err(e) => {
                self.warn(&logs, &e);
                return;
            }
        };
        files.sort();
        let mut remove = Vec::new();
        if self.settings.retention_days > 0 {
            let cutoff =
                Utc::now() - chrono::Duration::days(i64::from(self.settings.retention_days));
            files.retain(|(stamp, path)| {
                let expired = path != keep && stamp_time(stamp, path).is_some_and(|t| t < cutoff);
                if expired {
                    remove.push(path.clone());
                }
                !expired
            });
        }
        if self.settings.max_files > 0 && files.len() > self.settings.max_files {
            let excess = files.len() - self.settings.max_files;
            let oldest: Vec<PathBuf> = files
                .iter()
                .filter(|(_, p)| p != keep)
                .take(excess)
                .map(|(_, p)| p.clone())
                .collect();
            files.retain(|(_, p)| !oldest.contains(p));
            remove.extend(oldest);
        }
        for path in &remove {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.warn(path, &e),
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.files = Some(files.len());
        state.last_sweep = Some(Instant::now());
    }

    /// One line, one `write`: concurrent appenders do not interleave within a line.
    fn append_history(&self, entry: &HistoryEntry) {
        let path = self.dir.join(HISTORY_FILE);
        let mut line = match serde_json::to_string(entry) {
            Ok(line) => line,
            Err(e) => return self.warn(&path, &std::io::Error::other(e)),
        };
        line.push('\n');
        let appended = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.metadata()
            });
        match appended {
            Ok(meta) if meta.len() > self.settings.max_size => {
                let rolled = self.dir.join(format!("{HISTORY_FILE}.1"));
                if let Err(e) = std::fs::rename(&path, &rolled) {
                    self.warn(&path, &e);
                }
            }
            Ok(_) => {}
            Err(e) => self.warn(&path, &e),
        }
    }

    fn warn(&self, path: &Path, e: &std::io::Error) {
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(path = %path.display(), "instance log: {e}");
        } else {
            tracing::warn!(path = %path.display(), "instance log failed (later failures are debug messages): {e}");
        }
    }
}

/// The log of one session: commands sent, output received.
#[derive(Debug)]
pub(crate) struct SessionLog {
    writer: LogWriter,
}

impl SessionLog {
    pub(crate) fn sent(&self, command: &str) {
        self.writer
            .write(&format!("[{}] >>> {command}\n", now_stamp()));
    }

    pub(crate) fn received(&self, text: &str) {
        self.writer.write(text);
    }
}

/// The log of one detached process: its output as it arrives, then how it ended.
#[derive(Debug)]
pub(crate) struct DetachLog {
    writer: LogWriter,
    started: Instant,
}

impl DetachLog {
    pub(crate) fn output(&self, stream: StreamKind, text: &str) {
        let stream = match stream {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        };
        self.writer
            .write(&format!("[{}] [{stream}] {text}", now_stamp()));
    }

    /// `exit_code` is `None` when the process's end could not be read.
    pub(crate) fn finished(&self, exit_code: Option<i64>, timed_out: bool) {
        let mut footer = String::from("\n");
        match exit_code {
            Some(code) => footer.push_str(&format!("# exit_code: {code}\n")),
            None => footer.push_str("# exit_code: unknown\n"),
        }
        footer.push_str(&format!(
            "# duration_ms: {:.1}\n",
            self.started.elapsed().as_secs_f64() * 1000.0
        ));
        if timed_out {
            footer.push_str("# timed_out: true\n");
        }
        self.writer.write_footer(&footer);
    }
}

/// An append-only file that stops at its size limit.
#[derive(Debug)]
struct LogWriter {
    path: PathBuf,
    limit: u64,
    state: Mutex<WriterState>,
}

#[derive(Debug)]
struct WriterState {
    /// `None` once the limit is reached or a write failed.
    file: Option<File>,
    written: u64,
}

impl LogWriter {
    fn write(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.limit.saturating_sub(state.written);
        let Some(file) = state.file.as_mut() else {
            return;
        };
        let result = if (text.len() as u64) <= room {
            file.write_all(text.as_bytes())
        } else {
            let cut = floor_char_boundary(text, room as usize);
            let note = format!(
                "{}\n# log truncated: max_log_size ({} bytes) reached\n",
                &text[..cut],
                self.limit
            );
            let r = file.write_all(note.as_bytes());
            state.file = None;
            r
        };
        match result {
            Ok(()) => state.written += text.len() as u64,
            Err(e) => {
                state.file = None;
                tracing::warn!(path = %self.path.display(), "instance log failed: {e}");
            }
        }
    }

    /// Written even past the limit (it is a few bytes), then the file is closed.
    fn write_footer(&self, text: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let file = match state.file.take() {
            Some(file) => Some(file),
            // Truncated earlier: reopen just for the footer.
            None => OpenOptions::new().append(true).open(&self.path).ok(),
        };
        if let Some(mut file) = file {
            if let Err(e) = file.write_all(text.as_bytes()) {
                tracing::warn!(path = %self.path.display(), "instance log failed: {e}");
            }
        }
    }
}

/// `<stem>.log`, or `<stem>-1.log`, … when a file of that instant exists already.
fn create_unique(logs: &Path, stem: &str) -> std::io::Result<(PathBuf, File)> {
    for n in 0..100 {
        let path = match n {
            0 => logs.join(format!("{stem}.log")),
            n => logs.join(format!("{stem}-{n}.log")),
        };
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("no free log file name for {stem}"),
    ))
}

/// The text of a run log (the reference's layout), at most `limit` bytes plus a note.
fn run_log_text(command: &str, result: &ExecResult, limit: u64) -> String {
    let mut text = format!(
        "{}\n# exit_code: {}\n# duration_ms: {:.1}\n# timed_out: {}\n",
        header("command", command),
        result.exit_code,
        result.duration_ms,
        result.timed_out
    );
    if result.truncated {
        text.push_str("# output_truncated: true\n");
    }
    text.push('\n');
    if !result.stdout.is_empty() {
        text.push_str("--- stdout ---\n");
        text.push_str(&result.stdout);
        text.push('\n');
    }
    if !result.stderr.is_empty() {
        text.push_str("--- stderr ---\n");
        text.push_str(&result.stderr);
        text.push('\n');
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if text.len() > limit {
        let cut = floor_char_boundary(&text, limit);
        text.truncate(cut);
        text.push_str(&format!(
            "\n# log truncated: max_log_size ({limit} bytes) reached\n"
        ));
    }
    text
}

/// `# key: value`, a multi-line value continued on `#`-lines.
fn header(key: &str, value: &str) -> String {
    format!("# {key}: {}", value.replace('\n', "\n#   "))
}

fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (0..=index)
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0)
}

/// A line's timestamp: RFC 3339, UTC, microseconds.
fn now_stamp() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The reference's file-name timestamp: ISO 8601 with `:` as `-` and `+` as `p`.
pub(crate) fn file_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H-%M-%S%.6fp00-00").to_string()
}

/// When a log file was started: from its name, else its modification time.
fn stamp_time(stamp: &str, path: &Path) -> Option<DateTime<Utc>> {
    stamp
        .get(..19)
        .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H-%M-%S").ok())
        .map(|t| t.and_utc())
        .or_else(|| {
            let modified = std::fs::metadata(path).ok()?.modified().ok()?;
            Some(DateTime::<Utc>::from(modified))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(stdout: &str) -> ExecResult {
        ExecResult::from_bytes(
            stdout.as_bytes().to_vec(),
            b"err".to_vec(),
            3,
            12.34,
            false,
            false,
        )
    }

    fn logger(settings: LogSettings) -> (tempfile::TempDir, InstanceLog) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let log = InstanceLog::new(dir.path().to_path_buf(), settings);
        (dir, log)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("logs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    const ROOMY: LogSettings = LogSettings {
        max_size: 1 << 20,
        max_files: 100,
        retention_days: 30,
    };

    #[test]
    fn a_run_writes_its_log_and_a_history_line() {
        let (dir, log) = logger(ROOMY);
        log.log_run("echo hi\necho two", &result("hi\n"), Utc::now());
        let files = names(dir.path());
        assert_eq!(files.len(), 1);
        assert!(files[0].starts_with("run-") && files[0].ends_with(".log"));
        let text = std::fs::read_to_string(dir.path().join("logs").join(&files[0])).unwrap();
        assert!(
            text.starts_with("# command: echo hi\n#   echo two\n# exit_code: 3\n# duration_ms: 12.3\n# timed_out: false\n\n--- stdout ---\nhi\n\n--- stderr ---\nerr\n"),
            "{text}"
        );
        let history = super::super::read_history(dir.path(), None).unwrap();
        assert_eq!(history.len(), 1);
        let h = &history[0];
        assert_eq!(
            (
                h.kind.as_str(),
                h.command.as_str(),
                h.exit_code,
                h.duration_ms,
                h.timed_out
            ),
            ("run", "echo hi\necho two", 3, 12.3, false)
        );
        assert_eq!(h.log.as_deref(), Some(files[0].as_str()));
    }

    #[test]
    fn files_stop_at_max_log_size() {
        let (dir, log) = logger(LogSettings {
            max_size: 64,
            ..ROOMY
        });
        log.log_run("cmd", &result(&"x".repeat(500)), Utc::now());
        let run = &names(dir.path())[0];
        let text = std::fs::read_to_string(dir.path().join("logs").join(run)).unwrap();
        assert!(text.len() < 64 + 80, "{}", text.len());
        assert!(
            text.ends_with("# log truncated: max_log_size (64 bytes) reached\n"),
            "{text}"
        );
        let d = log.detached("long").unwrap();
        for _ in 0..50 {
            d.output(StreamKind::Stdout, "0123456789\n");
        }
        d.finished(Some(0), false);
        let detach = names(dir.path())
            .into_iter()
            .find(|n| n.starts_with("detach-"))
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("logs").join(detach)).unwrap();
        assert!(text.contains("# log truncated"), "{text}");
        assert!(text.contains("\n# exit_code: 0\n# duration_ms: "), "{text}");
        assert!(text.len() < 64 + 150, "{}", text.len());
        // history.jsonl rolls over past the size.
        for _ in 0..3 {
            log.log_run("cmd", &result(""), Utc::now());
        }
        assert!(dir.path().join("history.jsonl.1").is_file());
        let history = super::super::read_history(dir.path(), None).unwrap();
        assert!(
            !history.is_empty() && history.len() <= 5,
            "{}",
            history.len()
        );
    }

    #[test]
    fn the_oldest_files_go_past_the_count_limit() {
        let (dir, log) = logger(LogSettings {
            max_files: 3,
            ..ROOMY
        });
        let t0 = Utc::now() - chrono::Duration::minutes(10);
        for i in 0..5 {
            log.log_run(
                &format!("c{i}"),
                &result(""),
                t0 + chrono::Duration::seconds(i),
            );
        }
        let files = names(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        let kept: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(dir.path().join("logs").join(f)).unwrap())
            .map(|t| t.lines().next().unwrap().to_string())
            .collect();
        assert_eq!(kept, ["# command: c2", "# command: c3", "# command: c4"]);
        // The history keeps every run.
        assert_eq!(
            super::super::read_history(dir.path(), None).unwrap().len(),
            5
        );
    }

    #[test]
    fn files_past_retention_are_deleted() {
        let (dir, log) = logger(LogSettings {
            retention_days: 2,
            ..ROOMY
        });
        let logs = dir.path().join("logs");
        let old = Utc::now() - chrono::Duration::days(3);
        let recent = Utc::now() - chrono::Duration::days(1);
        for (kind, at) in [("run", old), ("session", old), ("detach", recent)] {
            std::fs::write(logs.join(format!("{kind}-{}.log", file_timestamp(at))), "x").unwrap();
        }
        std::fs::write(logs.join("notes.txt"), "not a log: left alone").unwrap();
        log.log_run("now", &result(""), Utc::now());
        let files = names(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(files.iter().any(|f| f.starts_with("detach-")));
        assert!(files.iter().any(|f| f == "notes.txt"));
        assert!(!files.iter().any(|f| f.starts_with("session-")));
    }

    #[test]
    fn same_instant_files_get_distinct_names_and_sessions_log() {
        let (dir, log) = logger(ROOMY);
        let at = Utc::now();
        log.log_run("a", &result(""), at);
        log.log_run("b", &result(""), at);
        let s = log.session("sid").unwrap();
        s.sent("cd /tmp");
        s.received("output\n");
        drop(s);
        let files = names(dir.path());
        assert_eq!(files.len(), 3, "{files:?}");
        let session = files.iter().find(|f| f.starts_with("session-")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("logs").join(session)).unwrap();
        assert!(text.starts_with("# session_id: sid\n\n["), "{text}");
        assert!(text.contains(">>> cd /tmp\noutput\n"), "{text}");
    }

    #[test]
    fn a_missing_directory_is_a_warning_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let log = InstanceLog::new(gone.clone(), ROOMY);
        // A vanished instance dir is not made again…
        log.log_run("x", &result(""), Utc::now());
        assert!(log.session("s").is_none());
        assert!(!gone.exists());
        // …but `logs/` removed inside one is.
        let (dir, log) = logger(ROOMY);
        std::fs::remove_dir(dir.path().join("logs")).unwrap();
        log.log_run("x", &result(""), Utc::now());
        assert_eq!(names(dir.path()).len(), 1);
    }
}
