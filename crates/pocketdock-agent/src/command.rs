//! One command on a connection: its shim, its output under flow control, its timeout, its end.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pocketdock_agent_protocol::{AgentMessage, Exit, Spawn, Stream, MAX_CHUNK, OUTPUT_WINDOW};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, Semaphore};

use crate::outbox::{Outbox, Outgoing};
use crate::splice::{PipeOutput, Spliced};

/// A running command, as the connection sees it.
#[derive(Debug)]
pub struct Running {
    id: u32,
    shim_pid: i32,
    stdin: std::sync::Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// The pseudo-terminal's master, when the command runs on one (for resizing).
    terminal: Option<OwnedFd>,
    credit: Arc<Semaphore>,
    shared: Arc<Shared>,
    outbox: Outbox,
}

#[derive(Debug, Default)]
struct Shared {
    /// The client is gone: output is read and dropped.
    disconnected: AtomicBool,
    /// Killed on its timeout.
    timed_out: AtomicBool,
    /// The shim has reported the end: its pid may be reused, signal nothing.
    ended: AtomicBool,
}

/// The shim of a command, forked with the command's stdio; returns its pid and our end of its
/// control socket.
fn start_shim(spawn: &Spawn, stdio: [OwnedFd; 3]) -> std::io::Result<(i32, StdUnixStream)> {
    let prepared = crate::shim::prepare(spawn);
    let (ours, theirs) = StdUnixStream::pair()?;
    let theirs = OwnedFd::from(theirs);
    let pid = crate::shim::start(&prepared, [&stdio[0], &stdio[1], &stdio[2]], &theirs)?;
    // Our copies of its stdio and control end close here: the shim holds its own.
    Ok((pid, ours))
}

/// The command's side of its stdio, and ours: pipes, or a pseudo-terminal.
struct CommandIo {
    stdio: [OwnedFd; 3],
    stdout: pipe::Receiver,
    stderr: Option<pipe::Receiver>,
    stdin: Option<pipe::Sender>,
    terminal: Option<OwnedFd>,
}

impl CommandIo {
    fn new(spawn: &Spawn) -> std::io::Result<CommandIo> {
        if let Some((cols, rows)) = spawn.pty {
            let (master, slave) = crate::sys::open_pty(cols, rows)?;
            // A pty master is no pipe, but reads and writes the same way; nonblocking for epoll.
            crate::sys::set_nonblocking(&master)?;
            let stdout = pipe::Receiver::from_owned_fd_unchecked(master.try_clone()?)?;
            let stdin = if spawn.stdin {
                Some(pipe::Sender::from_owned_fd_unchecked(master.try_clone()?)?)
            } else {
                None
            };
            let stdio = [slave.try_clone()?, slave.try_clone()?, slave];
            return Ok(CommandIo {
                stdio,
                stdout,
                stderr: None,
                stdin,
                terminal: Some(master),
            });
        }
        let (out_r, out_w) = std::io::pipe()?;
        let (err_r, err_w) = std::io::pipe()?;
        let (stdin_fd, stdin) = if spawn.stdin {
            let (r, w) = std::io::pipe()?;
            (
                OwnedFd::from(r),
                Some(pipe::Sender::from_owned_fd(OwnedFd::from(w))?),
            )
        } else {
            (dev_null()?, None)
        };
        Ok(CommandIo {
            stdio: [stdin_fd, out_w.into(), err_w.into()],
            stdout: pipe::Receiver::from_owned_fd(OwnedFd::from(out_r))?,
            stderr: Some(pipe::Receiver::from_owned_fd(OwnedFd::from(err_r))?),
            stdin,
            terminal: None,
        })
    }
}

fn dev_null() -> std::io::Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?
        .into())
}

/// The image's own entrypoint: output to the container's log, nobody waits for it.
pub fn start_detached(spawn: &Spawn) -> std::io::Result<()> {
    // SAFETY: fd 1 and 2 are the agent's own (the container's log), open for its whole life.
    let log = |fd: i32| unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }.try_clone_to_owned();
    let (_pid, control) = start_shim(spawn, [dev_null()?, log(1)?, log(2)?])?;
    // Closing our end is harmless: the shim's reports then fail quietly (SIGPIPE is ignored).
    drop(control);
    Ok(())
}

impl Running {
    pub fn start(
        id: u32,
        spawn: Spawn,
        outbox: Outbox,
        ended: mpsc::UnboundedSender<u32>,
    ) -> std::io::Result<Running> {
        let io = CommandIo::new(&spawn)?;
        let (shim_pid, control) = start_shim(&spawn, io.stdio)?; // PID 1 reaps it
        control.set_nonblocking(true)?;
        let control = tokio::net::UnixStream::from_std(control)?;
        let stdin = io.stdin.map(stdin_task);
        let credit = Arc::new(Semaphore::new(OUTPUT_WINDOW as usize));
        let shared = Arc::new(Shared::default());
        let running = Running {
            id,
            shim_pid,
            stdin: std::sync::Mutex::new(stdin),
            terminal: io.terminal,
            credit: credit.clone(),
            shared: shared.clone(),
            outbox: outbox.clone(),
        };
        let timeout = spawn.timeout_ms.map(Duration::from_millis);
        RUNNING.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(supervise(
            id, shim_pid, control, io.stdout, io.stderr, credit, shared, outbox, timeout, ended,
        ));
        Ok(running)
    }

    pub fn stdin(&self, data: Vec<u8>) {
        if let Some(tx) = &*self.stdin.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.send(data);
        }
    }

    pub fn close_stdin(&self) {
        // Dropping the queue's sender lets the writer finish what is queued, then close.
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn signal(&self, signal: i32, spare: Option<i32>) {
        let (pid, shared, outbox, id) = (
            self.shim_pid,
            self.shared.clone(),
            self.outbox.clone(),
            self.id,
        );
        tokio::spawn(async move {
            let count = kill_tree(pid, signal, spare, &shared).await;
            let _ = outbox.control.send(AgentMessage::Signalled {
                id,
                count: count as u32,
            });
        });
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        if let Some(master) = &self.terminal {
            let _ = crate::sys::set_window_size(master, cols, rows);
        }
    }

    pub fn credit(&self, bytes: u32) {
        self.credit.add_permits(bytes.min(OUTPUT_WINDOW) as usize);
    }

    pub fn disconnect(&self) {
        self.shared.disconnected.store(true, Ordering::SeqCst);
        self.credit.close();
    }
}

async fn kill_tree(shim_pid: i32, signal: i32, spare: Option<i32>, shared: &Shared) -> usize {
    if shared.ended.load(Ordering::SeqCst) {
        return 0;
    }
    // On the agent's own thread: under an exhausted pids limit (a fork bomb) no new thread or
    // process can be had, and the kill must still happen.
    crate::tree::signal_tree(shim_pid, signal, spare)
}

fn stdin_task(mut pipe: pipe::Sender) -> mpsc::UnboundedSender<Vec<u8>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if pipe.write_all(&data).await.is_err() {
                break; // the command closed its stdin: the rest has nowhere to go
            }
        }
    });
    tx
}

/// What the shim reported.
enum Report {
    Exited(Exit),
    NotStarted(i32, String),
}

#[allow(clippy::too_many_arguments)]
async fn supervise(
    id: u32,
    shim_pid: i32,
    control: tokio::net::UnixStream,
    stdout: pipe::Receiver,
    stderr: Option<pipe::Receiver>,
    credit: Arc<Semaphore>,
    shared: Arc<Shared>,
    outbox: Outbox,
    timeout: Option<Duration>,
    ended: mpsc::UnboundedSender<u32>,
) {
    // A terminal is no pipe: the kernel cannot splice from it.
    let spliceable = stderr.is_some();
    let out = tokio::spawn(forward(
        id,
        Stream::Stdout,
        stdout,
        spliceable,
        credit.clone(),
        shared.clone(),
        outbox.clone(),
    ));
    // On a terminal, stderr is the terminal too: stdout carries everything.
    let err = stderr.map(|stderr| {
        tokio::spawn(forward(
            id,
            Stream::Stderr,
            stderr,
            spliceable,
            credit,
            shared.clone(),
            outbox.clone(),
        ))
    });
    let ooms_before = crate::sys::oom_kills();
    let reports = read_reports(id, control, &outbox);
    tokio::pin!(reports);
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let report = tokio::select! {
        r = &mut reports => r,
        _ = &mut deadline => {
            shared.timed_out.store(true, Ordering::SeqCst);
            kill_tree(shim_pid, libc::SIGKILL, None, &shared).await;
            reports.await
        }
    };
    let mut exit = match report {
        Report::Exited(exit) => exit,
        Report::NotStarted(code, message) => {
            let _ = outbox.data.send(
                AgentMessage::Output {
                    id,
                    stream: Stream::Stderr,
                    data: format!("pocketdock: {message}\n").into_bytes(),
                }
                .into(),
            );
            Exit::NotStarted(code)
        }
    };
    // The output ends when the last process holding it closes it; the timeout still applies.
    let drained = async {
        let _ = out.await;
        if let Some(err) = err {
            let _ = err.await;
        }
    };
    tokio::pin!(drained);
    tokio::select! {
        _ = &mut drained => {}
        _ = &mut deadline, if !shared.timed_out.load(Ordering::SeqCst) => {
            shared.timed_out.store(true, Ordering::SeqCst);
            kill_tree(shim_pid, libc::SIGKILL, None, &shared).await;
            drained.await;
        }
    }
    shared.ended.store(true, Ordering::SeqCst);
    if shared.timed_out.load(Ordering::SeqCst) {
        exit = Exit::TimedOut;
    } else if matches!(exit, Exit::Signal(libc::SIGKILL) | Exit::Code(137)) {
        // It died of a SIGKILL (itself, or the process whose death ended it) while the
        // sandbox's OOM killer struck: that was the OOM killer.
        let now = crate::sys::oom_kills();
        if ooms_before.is_some_and(|before| now.is_some_and(|now| now > before)) {
            exit = Exit::OomKilled(128 + libc::SIGKILL);
        }
    }
    let _ = outbox.data.send(AgentMessage::Exited { id, exit }.into());
    let _ = ended.send(id);
    HEAP_USED.fetch_add(HEAP_PER_COMMAND, Ordering::Relaxed);
    if RUNNING.fetch_sub(1, Ordering::SeqCst) == 1 {
        give_back_memory();
    }
}

/// Commands running in this agent, on every connection.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Roughly the heap passed through since it was last trimmed: output read, and commands run.
static HEAP_USED: AtomicUsize = AtomicUsize::new(0);

/// What one command counts for (its tasks, channels and shim's control socket; a read buffer
/// when its output is read rather than spliced): an agent that ran many small commands trims
/// too, at most once every few dozen.
const HEAP_PER_COMMAND: usize = 2 * FIRST_READ;

/// Once the agent is idle after much work, returns the freed heap to the kernel: glibc keeps
/// some otherwise, and PID 1 of every sandbox should stay small while it waits.
fn give_back_memory() {
    if HEAP_USED.load(Ordering::SeqCst) < TRIM_AFTER {
        return;
    }
    HEAP_USED.store(0, Ordering::SeqCst);
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

const TRIM_AFTER: usize = 1 << 20;

async fn read_reports(id: u32, control: tokio::net::UnixStream, outbox: &Outbox) -> Report {
    let mut lines = BufReader::new(control).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            // The shim died without a word (killed): as if its command was.
            _ => return Report::Exited(Exit::Signal(libc::SIGKILL)),
        };
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        match word {
            "started" => {
                if let Ok(pid) = rest.parse() {
                    let _ = outbox.control.send(AgentMessage::Started { id, pid });
                }
            }
            "exit" => return Report::Exited(Exit::Code(rest.parse().unwrap_or(-1))),
            "signal" => return Report::Exited(Exit::Signal(rest.parse().unwrap_or(libc::SIGKILL))),
            "failed" => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                return Report::NotStarted(code.parse().unwrap_or(126), message.to_string());
            }
            _ => {}
        }
    }
}

/// The pipe size a fast writer's stream gets: room for it to write on while the agent sends.
const MAX_PIPE: usize = 1 << 20;

/// A spliced frame this large found the pipe full at its default size.
const FULL_DEFAULT_PIPE: usize = 64 * 1024;

/// Copies one stream of the command to the client, never more than its window ahead: spliced
/// from the pipe where the kernel can, read and sent otherwise (a terminal, a client gone).
async fn forward(
    id: u32,
    stream: Stream,
    pipe: pipe::Receiver,
    spliceable: bool,
    credit: Arc<Semaphore>,
    shared: Arc<Shared>,
    outbox: Outbox,
) {
    let pipe = Arc::new(pipe);
    if spliceable && splice_until_done(id, stream, &pipe, &credit, &shared, &outbox).await {
        return;
    }
    read_and_send(id, stream, &pipe, &credit, &shared, &outbox).await;
}

/// Hands the pipe to the connection's writer each time it has output, and waits for the frame
/// to be sent before looking again. `true`: the stream has ended; `false`: read it instead.
async fn splice_until_done(
    id: u32,
    stream: Stream,
    pipe: &Arc<pipe::Receiver>,
    credit: &Arc<Semaphore>,
    shared: &Shared,
    outbox: &Outbox,
) -> bool {
    let mut grown = false;
    loop {
        if shared.disconnected.load(Ordering::SeqCst) {
            return false;
        }
        if pipe.readable().await.is_err() {
            return true;
        }
        match credit.acquire_many(1).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false, // closed: the client is gone
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let output = PipeOutput {
            id,
            stream,
            pipe: pipe.clone(),
            credit: credit.clone(),
            done,
        };
        if outbox.data.send(Outgoing::Pipe(output)).is_err() {
            shared.disconnected.store(true, Ordering::SeqCst);
            return false;
        }
        match answer.await {
            Ok(Spliced::Sent(n)) => {
                if n >= FULL_DEFAULT_PIPE && !grown {
                    crate::sys::grow_pipe(&**pipe, MAX_PIPE);
                    grown = true;
                }
            }
            Ok(Spliced::Empty) => {
                credit.add_permits(1);
                // Nothing was waiting: the end, or a wake-up without data (this read clears it).
                let mut data = Vec::with_capacity(FIRST_READ);
                match pipe.try_read_buf(&mut data) {
                    Ok(0) => return true,
                    Ok(_) => send_read(id, stream, data, credit, shared, outbox).await,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return true,
                }
            }
            Ok(Spliced::Unsupported) => return false,
            // The writer is gone: so is the client.
            Err(_) => {
                shared.disconnected.store(true, Ordering::SeqCst);
                return false;
            }
        }
    }
}

/// The first read buffer of a command's stream.
const FIRST_READ: usize = 16 * 1024;

/// Reads the stream and sends what it read; once the client is gone, reads and drops it.
async fn read_and_send(
    id: u32,
    stream: Stream,
    pipe: &pipe::Receiver,
    credit: &Semaphore,
    shared: &Shared,
    outbox: &Outbox,
) {
    // Small first: most commands write little, and a big buffer per stream per command costs
    // an mmap each and leaves the heap fragmented. A full read grows it, up to a chunk. Each
    // read goes into a buffer of its own (uninitialised, not zeroed) that is sent as it is.
    let mut size = FIRST_READ;
    loop {
        let mut data = Vec::with_capacity(size);
        let n = loop {
            if pipe.readable().await.is_err() {
                return;
            }
            match pipe.try_read_buf(&mut data) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            }
        };
        if n == 0 {
            return;
        }
        if n == size && size < MAX_CHUNK {
            size = (size * 4).min(MAX_CHUNK);
            if size == MAX_CHUNK {
                crate::sys::grow_pipe(pipe, MAX_PIPE);
            }
        }
        send_read(id, stream, data, credit, shared, outbox).await;
    }
}

/// Sends output read from the stream, within the window; drops it once the client is gone.
async fn send_read(
    id: u32,
    stream: Stream,
    data: Vec<u8>,
    credit: &Semaphore,
    shared: &Shared,
    outbox: &Outbox,
) {
    if shared.disconnected.load(Ordering::SeqCst) {
        return;
    }
    match credit.acquire_many(data.len() as u32).await {
        Ok(permit) => permit.forget(),
        Err(_) => return, // closed: the client is gone
    }
    HEAP_USED.fetch_add(data.len(), Ordering::Relaxed);
    if outbox
        .data
        .send(AgentMessage::Output { id, stream, data }.into())
        .is_err()
    {
        shared.disconnected.store(true, Ordering::SeqCst);
    }
}
