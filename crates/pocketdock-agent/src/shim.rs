//! One command's keeper. Started by the agent with the command's stdin/stdout/stderr as its own
//! and a control socket as fd 3: it reads the spec there, becomes a session leader and a child
//! subreaper, starts the command as its user, reports `started PID`, then the command's end
//! (`exit N` / `signal N`), and reaps every descendant until none is left.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};

use pocketdock_agent_protocol::Spawn;

use crate::sys::check;
use crate::users::{self, Identity};

/// The fd the agent hands the control socket on.
pub const CONTROL_FD: i32 = 3;
/// Environment variables of the agent that commands must not see.
pub const PRIVATE_ENV: &[&str] = &["POCKETDOCK_AGENT_USER"];

pub fn main() -> i32 {
    // SAFETY: the agent always passes fd 3 as the control socket; nothing else owns it here.
    let fd = unsafe { OwnedFd::from_raw_fd(CONTROL_FD) };
    let mut control = UnixStream::from(fd);
    let spawn = match read_spec(&mut control) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(control, "failed 126 reading the command: {e}");
            return 1;
        }
    };
    // So that the command cannot inherit it.
    unsafe { libc::fcntl(CONTROL_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    let child = match start(&spawn) {
        Ok(child) => child,
        Err((code, message)) => {
            let _ = writeln!(control, "failed {code} {message}");
            return 0;
        }
    };
    let child_pid = child.id() as i32;
    let _ = writeln!(control, "started {child_pid}");
    release_stdio();
    loop {
        let mut status = 0;
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => return 0, // ECHILD: the whole tree has ended
            }
        }
        if pid == child_pid {
            let status = std::process::ExitStatus::from_raw(status);
            let line = match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                _ => "exit -1".to_string(),
            };
            let _ = writeln!(control, "{line}");
        }
    }
}

fn read_spec(control: &mut UnixStream) -> std::io::Result<Spawn> {
    let mut len = [0u8; 4];
    control.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > pocketdock_agent_protocol::MAX_FRAME {
        return Err(std::io::Error::other("spec too large"));
    }
    let mut buf = vec![0u8; len];
    control.read_exact(&mut buf)?;
    postcard::from_bytes(&buf).map_err(std::io::Error::other)
}

/// Our copies of the command's stdio must not hold its pipes open: the client sees the end of
/// the output when the command's last process closes them, as with the engine's exec.
fn release_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

fn start(spawn: &Spawn) -> Result<std::process::Child, (i32, String)> {
    // A session and process group of its own, and every orphan below it comes back to us.
    unsafe {
        libc::setsid();
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let user = spawn.user.as_deref().unwrap_or("");
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let id = users::resolve(user, &passwd, &group).map_err(|e| (126, e))?;
    let Some(program) = spawn.argv.first() else {
        return Err((126, "no command given".into()));
    };
    if let Some(cwd) = &spawn.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            return Err((
                126,
                format!("cannot change to directory {cwd}: no such directory"),
            ));
        }
    }
    let mut cmd = std::process::Command::new(program);
    cmd.args(&spawn.argv[1..])
        .env_clear()
        .envs(environment(spawn, &id));
    if let Some(cwd) = &spawn.cwd {
        cmd.current_dir(cwd);
    }
    let (uid, gid, groups) = (id.uid, id.gid, id.groups.clone());
    let terminal = spawn.pty.is_some();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if terminal {
                // As on a login: the command leads a session whose controlling terminal is its
                // stdin, so job control and Ctrl-C work, and the shim stays out of its way.
                check(libc::setsid())?;
                check(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
            }
            if libc::getuid() == 0 {
                check(libc::setgroups(groups.len(), groups.as_ptr()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        (code, format!("{program}: {e}"))
    })
}

/// The container's environment (the agent's, less its own settings), the user's `HOME`, then
/// what the command asked for.
fn environment(spawn: &Spawn, id: &Identity) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !PRIVATE_ENV.contains(&k.as_str()) && k != "HOME")
        .collect();
    env.push(("HOME".into(), id.home.clone()));
    for (k, v) in &spawn.env {
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v.clone()));
    }
    env
}
