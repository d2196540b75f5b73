//! A command's output moved from its pipe to the client's socket by the kernel (splice(2)):
//! the bytes never pass through the agent's memory, which at GB/s was most of its work.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use pocketdock_agent_protocol::{CommandId, Stream, MAX_JOINED_OUTPUT};
use tokio::io::Interest;
use tokio::net::unix::pipe;
use tokio::net::UnixStream;
use tokio::sync::{oneshot, Semaphore};

/// A stream whose pipe has output: the writer sends what the pipe holds then, as one frame.
#[derive(Debug)]
pub struct PipeOutput {
    pub id: CommandId,
    pub stream: Stream,
    pub pipe: Arc<pipe::Receiver>,
    /// The command's window; one byte of it is already taken for this frame.
    pub credit: Arc<Semaphore>,
    pub done: oneshot::Sender<Spliced>,
}

/// What the writer did with a [`PipeOutput`].
#[derive(Debug, PartialEq, Eq)]
pub enum Spliced {
    /// Sent this many bytes (at least one).
    Sent(usize),
    /// The pipe held nothing (its end, or a wake-up without data): the byte of window is
    /// given back.
    Empty,
    /// The kernel cannot splice these: read and send instead from now on.
    Unsupported,
}

/// Bytes waiting in a pipe.
pub fn available(pipe: &impl AsRawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    crate::sys::check(unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) })?;
    Ok(n.max(0) as usize)
}

/// How much of the pipe's content the next frame carries: all of it, within the frame limit
/// and the command's window (of which one byte is held already).
pub fn frame_len(waiting: usize, credit: &Semaphore) -> usize {
    let want = waiting.min(MAX_JOINED_OUTPUT);
    if want == 0 {
        return 0;
    }
    // The agent's runtime has one thread: nothing takes permits between these two lines.
    let more = (want - 1).min(credit.available_permits());
    if let Ok(p) = credit.try_acquire_many(more as u32) {
        p.forget();
        return more + 1;
    }
    1
}

/// Moves exactly `len` bytes, known to be waiting in `pipe`, to `socket`. `Ok(false)`: the
/// kernel refused before anything moved (the caller sends them another way).
pub async fn move_exactly(
    pipe: &pipe::Receiver,
    socket: &UnixStream,
    len: usize,
) -> io::Result<bool> {
    let mut left = len;
    while left > 0 {
        socket.writable().await?;
        let moved = socket.try_io(Interest::WRITABLE, || {
            crate::sys::check(unsafe {
                libc::splice(
                    pipe.as_raw_fd(),
                    std::ptr::null_mut(),
                    socket.as_raw_fd(),
                    std::ptr::null_mut(),
                    left,
                    libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
                )
            })
            .map(|n| n as usize)
        });
        match moved {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if left == len && e.raw_os_error() == Some(libc::EINVAL) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
