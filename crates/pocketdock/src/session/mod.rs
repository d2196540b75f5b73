//! Sessions: one long-lived shell per session; `cd` and exported variables persist between
//! commands. Command boundaries are markers the shell prints after each command on both
//! streams; they are removed before any text reaches the user.

pub(crate) mod marker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::project::SessionLog;
use crate::transport::{ExecControl, ExecHandle, ExecSpec, ExitStatus, SIGKILL};
use crate::types::{ExecResult, StreamKind};
use crate::utf8::Utf8Decoder;
use marker::{MarkerScanner, Piece};

/// How long a new shell may take to report in.
const STARTUP: Duration = Duration::from_secs(20);
/// After interrupting a timed-out command, how long the shell may take to print its markers.
const AFTER_INTERRUPT: Duration = Duration::from_secs(5);

pub(crate) type OutputCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// A long-lived shell in a sandbox. Cheap to clone; every clone is the same shell.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.shared.id)
            .field("closed", &self.shared.closed.load(Ordering::SeqCst))
            .finish()
    }
}

struct Shared {
    id: String,
    /// The shell's stdin and signals, over the sandbox's transport.
    control: Arc<dyn ExecControl>,
    /// Writes go one at a time, each whole.
    writing: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    /// Bumped whenever `state` changes, so waiters never miss an update.
    version: watch::Sender<u64>,
    closed: AtomicBool,
    /// The shell runs one command at a time; so do we.
    one_at_a_time: tokio::sync::Mutex<()>,
    next_seq: AtomicU64,
    /// The session's log in its container's instance directory, if it has one.
    log: Option<SessionLog>,
    /// Runs the `on_output` callbacks, in order, off the runtime's workers.
    callback_thread: crate::callbacks::Dispatcher,
}

impl Drop for Shared {
    /// The last handle is gone: nobody can reach the shell any more, so it ends (without
    /// blocking: the kill is queued).
    fn drop(&mut self) {
        if !self.closed.load(Ordering::SeqCst) {
            self.control.kill_in_background();
        }
    }
}

#[derive(Default)]
struct State {
    unread: String,
    callbacks: Vec<OutputCallback>,
    capture: Option<Capture>,
    shell_pid: Option<u32>,
    /// The shell is gone (it exited or its exec ended).
    ended: bool,
    /// The shell's own exit status, once it is gone.
    shell_exit: Option<i64>,
    /// Why the shell went, when its container is why (removed or stopped behind our back).
    trouble: Option<Error>,
}

/// The output of the command being waited for.
struct Capture {
    seq: u64,
    stdout: String,
    stderr: String,
    exit_code: Option<i64>,
    stderr_done: bool,
}

impl Capture {
    fn complete(&self) -> bool {
        self.exit_code.is_some() && self.stderr_done
    }
}

/// Sessions of a container, closed when it shuts down.
#[derive(Default)]
pub(crate) struct SessionRegistry(Mutex<Vec<Weak<Shared>>>);

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionRegistry")
    }
}

impl SessionRegistry {
    fn add(&self, session: &Session) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|s| s.strong_count() > 0);
        list.push(Arc::downgrade(&session.shared));
    }

    /// Closes every open session (the container is going away).
    pub(crate) async fn close_all(&self) {
        let sessions: Vec<_> = {
            let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
            list.drain(..).filter_map(|w| w.upgrade()).collect()
        };
        for shared in sessions {
            Session { shared }.close().await;
        }
    }
}

impl Container {
    /// Opens a long-lived shell in the container.
    pub async fn session(&self) -> Result<Session> {
        let handle = self
            .open_handle(ExecSpec {
                argv: vec!["sh".into()],
                stdin: true,
                ..ExecSpec::default()
            })
            .await?;
        let (version, _) = watch::channel(0);
        let id = format!("{:016x}", rand::random::<u64>());
        let log = self
            .instance()
            .and_then(|i| i.log())
            .and_then(|l| l.session(&id));
        let shared = Arc::new(Shared {
            id,
            log,
            control: handle.control(),
            writing: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
            version,
            closed: AtomicBool::new(false),
            one_at_a_time: tokio::sync::Mutex::new(()),
            next_seq: AtomicU64::new(1),
            callback_thread: Default::default(),
        });
        tokio::spawn(read_loop(
            handle,
            Arc::downgrade(&shared),
            shared.id.clone(),
            (self.engine().clone(), self.id()),
        ));
        let session = Session { shared };
        // The shell reports its PID as marker 0: a timeout interrupts everything but it.
        session
            .write(&format!(
                "{}\n",
                MarkerScanner::print_command(&session.shared.id, 0, "$$", false)
            ))
            .await?;
        let started = session
            .wait_for(Some(Instant::now() + STARTUP), |st| {
                st.shell_pid.is_some() || st.ended
            })
            .await;
        if !started || session.state().shell_pid.is_none() {
            session.close().await;
            return Err(Error::communication("the session's shell did not start"));
        }
        self.sessions().add(&session);
        Ok(session)
    }
}

impl Session {
    /// The session's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Writes a line to the shell and returns at once; its output shows up in
    /// [`read`](Self::read) and the [`on_output`](Self::on_output) callbacks.
    pub async fn send(&self, command: &str) -> Result<()> {
        self.write(&format!("{command}\n")).await?;
        if let Some(log) = &self.shared.log {
            log.sent(command);
        }
        Ok(())
    }

    /// Runs `command` in the shell and waits for it: its exit code, stdout and stderr. On
    /// timeout everything the command started is killed (the shell itself stays, with its
    /// directory and variables) and the output so far is returned with `timed_out`. The command's
    /// stdin is empty, so a command that reads it cannot swallow what follows.
    pub async fn send_and_wait(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecResult> {
        let quoted = crate::files::shell_quote(command)?;
        let _one = self.shared.one_at_a_time.lock().await;
        self.ensure_open()?;
        let started = Instant::now();
        let seq = self.shared.next_seq.fetch_add(1, Ordering::SeqCst);
        self.state().capture = Some(Capture {
            seq,
            stdout: String::new(),
            stderr: String::new(),
            exit_code: None,
            stderr_done: false,
        });
        let id = &self.shared.id;
        // `command eval`: a syntax error in the command fails the command, not the shell (eval
        // is a special built-in whose errors end a non-interactive shell).
        let line = format!(
            "{{ command eval {quoted}\n}} </dev/null; {}; {}\n",
            MarkerScanner::print_command(id, seq, "$?", false),
            MarkerScanner::print_command(id, seq, "E", true),
        );
        self.write(&line).await?;
        if let Some(log) = &self.shared.log {
            log.sent(command);
        }
        let finished = |st: &State| st.ended || st.capture.as_ref().is_some_and(Capture::complete);
        let mut timed_out = false;
        if !self.wait_for(timeout.map(|t| started + t), finished).await {
            timed_out = true;
            self.interrupt().await;
        }
        let (capture, ended, trouble) = {
            let mut st = self.state();
            (st.capture.take(), st.ended, st.trouble.clone())
        };
        let capture = capture.expect("the capture is only taken here");
        if let (Some(e), None) = (trouble, capture.exit_code) {
            return Err(e);
        }
        let exit_code = match (timed_out, capture.exit_code) {
            (true, _) => -1,
            (false, Some(code)) => code,
            // The shell ended mid-command (`exit 3`): its own exit status is the answer.
            (false, None) => self.state().shell_exit.unwrap_or(-1),
        };
        if ended {
            self.shared.closed.store(true, Ordering::SeqCst);
        }
        Ok(ExecResult::from_bytes(
            capture.stdout.into_bytes(),
            capture.stderr.into_bytes(),
            exit_code,
            started.elapsed().as_secs_f64() * 1000.0,
            timed_out,
            false,
        ))
    }

    /// All output not read yet (both streams, markers removed); it is then cleared.
    pub fn read(&self) -> String {
        std::mem::take(&mut self.state().unread)
    }

    /// Calls `f(text)` with every piece of output as it arrives.
    pub fn on_output(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.state().callbacks.push(Arc::new(f));
    }

    /// Whether the session has been closed (or its shell has exited).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Ends the shell and everything it started; the container stays. Further calls give
    /// [`Error::SessionClosed`].
    pub async fn close(&self) {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.shared.control.close_stdin().await;
        let _ = self.shared.control.signal(SIGKILL).await;
        self.shared.version.send_modify(|v| *v += 1);
    }

    fn ensure_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(self.state().trouble.clone().unwrap_or(Error::SessionClosed))
        } else {
            Ok(())
        }
    }

    async fn write(&self, text: &str) -> Result<()> {
        self.ensure_open()?;
        let _one = self.shared.writing.lock().await;
        self.ensure_open()?;
        self.shared
            .control
            .write_stdin(text.as_bytes().to_vec())
            .await
            .map_err(|e| {
                Error::communication(format!("writing to the session's shell failed: {e}"))
            })
    }

    /// Waits until `done` holds or `deadline` passes; returns whether it holds.
    async fn wait_for(&self, deadline: Option<Instant>, done: impl Fn(&State) -> bool) -> bool {
        let mut version = self.shared.version.subscribe();
        loop {
            if done(&self.state()) {
                return true;
            }
            let changed = version.changed();
            let alive = match deadline {
                Some(d) => match tokio::time::timeout_at(d, changed).await {
                    Ok(r) => r.is_ok(),
                    Err(_) => return done(&self.state()),
                },
                None => changed.await.is_ok(),
            };
            if !alive {
                return done(&self.state());
            }
        }
    }

    /// Kills what the timed-out command started, sparing the shell, and lets the shell print
    /// its markers so the next command starts clean. A shell stuck in a builtin loop cannot be
    /// interrupted: then the session is closed.
    async fn interrupt(&self) {
        let spared = self.state().shell_pid;
        let _ = self.shared.control.signal_sparing(SIGKILL, spared).await;
        let recovered = self
            .wait_for(Some(Instant::now() + AFTER_INTERRUPT), |st| {
                st.ended || st.capture.as_ref().is_some_and(Capture::complete)
            })
            .await;
        if !recovered {
            self.close().await;
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn read_loop(
    mut shell: Box<dyn ExecHandle>,
    shared: Weak<Shared>,
    session_id: String,
    (engine, container_id): (crate::engine::Engine, String),
) {
    let mut decoders = [Utf8Decoder::default(), Utf8Decoder::default()];
    let mut scanners = [
        MarkerScanner::new(&session_id),
        MarkerScanner::new(&session_id),
    ];
    loop {
        let frame = shell.next_output().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let (stream, data) = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => {
                let rest: Vec<_> = [StreamKind::Stdout, StreamKind::Stderr]
                    .into_iter()
                    .zip(scanners.iter_mut().zip(decoders.iter_mut()))
                    .filter_map(|(kind, (scanner, decoder))| {
                        let mut text = scanner.finish().unwrap_or_default();
                        text.push_str(&decoder.finish());
                        (!text.is_empty()).then_some((kind, text))
                    })
                    .collect();
                for (kind, text) in rest {
                    deliver(&shared, kind, vec![Piece::Text(text)]).await;
                }
                let status = shell.exit_status().await;
                let exit = match status {
                    Ok(ExitStatus::Code(code)) => Some(code),
                    Ok(ExitStatus::Signal(signal)) => Some(128 + i64::from(signal)),
                    Ok(ExitStatus::Lost) => Some(128 + 9),
                    Ok(ExitStatus::OomKilled(code)) => Some(code),
                    Ok(ExitStatus::TimedOut) | Err(_) => None,
                };
                // Killed, and not by us closing it: possibly by the container's removal or
                // stop, which a command in flight must hear of rather than an exit code.
                let trouble = match crate::exec::removal_patience(status.as_ref()) {
                    Some(patience) if !shared.closed.load(Ordering::SeqCst) => {
                        crate::exec::container_trouble(&engine, &container_id, patience).await
                    }
                    _ => None,
                };
                {
                    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.ended = true;
                    st.shell_exit = exit;
                    st.trouble = trouble;
                }
                shared.closed.store(true, Ordering::SeqCst);
                shared.version.send_modify(|v| *v += 1);
                return;
            }
        };
        let index = usize::from(stream == StreamKind::Stderr);
        let text = decoders[index].decode(&data);
        let pieces = scanners[index].push(&text);
        deliver(&shared, stream, pieces).await;
    }
}

/// Applies what one frame held: text to the unread buffer, the waiting command and the
/// callbacks; markers to the waiting command.
async fn deliver(shared: &Shared, stream: StreamKind, pieces: Vec<Piece>) {
    let mut texts = Vec::new();
    let callbacks = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    st.unread.push_str(&text);
                    if let Some(c) = st.capture.as_mut() {
                        match stream {
                            StreamKind::Stdout if c.exit_code.is_none() => c.stdout.push_str(&text),
                            StreamKind::Stderr if !c.stderr_done => c.stderr.push_str(&text),
                            _ => {}
                        }
                    }
                    texts.push(text);
                }
                Piece::Marker(m) if m.seq == 0 => st.shell_pid = m.value.parse().ok(),
                Piece::Marker(m) => {
                    if let Some(c) = st.capture.as_mut().filter(|c| c.seq == m.seq) {
                        match stream {
                            StreamKind::Stdout => c.exit_code = Some(m.value.parse().unwrap_or(-1)),
                            StreamKind::Stderr => c.stderr_done = true,
                        }
                    }
                }
            }
        }
        st.callbacks.clone()
    };
    if let Some(log) = &shared.log {
        for text in &texts {
            log.received(text);
        }
    }
    shared.version.send_modify(|v| *v += 1);
    if !callbacks.is_empty() && !texts.is_empty() {
        // A slow callback (or Python's GIL) delays only later callbacks, never the reading.
        shared
            .callback_thread
            .dispatch(Box::new(move || {
                for text in &texts {
                    for f in &callbacks {
                        crate::callbacks::guarded(|| f(text));
                    }
                }
            }))
            .await;
    }
}
