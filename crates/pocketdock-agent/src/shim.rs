//! One command's keeper, started without an exec: the agent forks, and the child becomes the
//! shim — a child subreaper in a session of its own, so that everything the command starts
//! (after `setsid`, double forks, `env -i`) stays its descendant. It starts the command as its
//! user, reports `started PID` on its control socket, then the command's end (`exit N` /
//! `signal N`), and reaps every descendant until none is left.
//!
//! Saving the exec of a second program per command is what makes a command cost one
//! fork+exec. Everything the child needs is prepared before the fork (paths, argv, environment,
//! ids as C values, the command's stack); after it, the child makes raw system calls only and
//! never returns into the agent's code. The agent is single-threaded (a current-thread runtime
//! with no blocking pool), so no lock can be held across the fork. The shim starts the command
//! as `posix_spawn` does — `clone(CLONE_VM | CLONE_VFORK)` on a stack of its own — so that the
//! agent's page tables are copied once per command, not twice.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use pocketdock_agent_protocol::Spawn;

use crate::users::{self, Identity};

/// Environment variables of the agent that commands must not see.
pub const PRIVATE_ENV: &[&str] = &["POCKETDOCK_AGENT_USER"];
/// Where the shim's control socket is, in the shim.
const CONTROL_FD: i32 = 3;
/// Processes per user for commands, where no pids cgroup bounds the sandbox (0: none).
static PROCESS_LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the limit [`PROCESS_LIMIT`] describes (once, at start).
pub fn set_process_limit(limit: Option<u64>) {
    PROCESS_LIMIT.store(limit.unwrap_or(0), std::sync::atomic::Ordering::SeqCst);
}

thread_local! {
    /// Where each (PATH, program) was found: its index in PATH.
    static FOUND: std::cell::RefCell<std::collections::HashMap<(String, String), usize>> =
        std::cell::RefCell::default();
    static PASSWD: FileCache = const { FileCache::new("/etc/passwd") };
    static GROUP: FileCache = const { FileCache::new("/etc/group") };
}

/// A small file read again only when it changed (by inode, size and modification time): a
/// stat per command instead of a read.
struct FileCache {
    path: &'static str,
    cached: std::cell::RefCell<Option<(FileStamp, std::rc::Rc<str>)>>,
}

type FileStamp = (u64, u64, i64, i64);

impl FileCache {
    const fn new(path: &'static str) -> Self {
        FileCache {
            path,
            cached: std::cell::RefCell::new(None),
        }
    }

    fn read(&self) -> std::rc::Rc<str> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(self.path) else {
            return std::rc::Rc::from("");
        };
        let stamp = (meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec());
        if let Some((cached, text)) = &*self.cached.borrow() {
            if *cached == stamp {
                return text.clone();
            }
        }
        let text: std::rc::Rc<str> = std::fs::read_to_string(self.path)
            .unwrap_or_default()
            .into();
        *self.cached.borrow_mut() = Some((stamp, text.clone()));
        text
    }
}

/// Open files per command.
const NOFILE: libc::rlim_t = 4096;
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A command ready to start: every value the forked child needs, as the kernel takes it.
#[derive(Default)]
pub struct Prepared {
    /// Why it cannot start, found before the fork: the shim's whole report.
    failure: Option<Vec<u8>>,
    /// Paths to try `execve` on, in order (the program, or each `PATH` entry joined with it).
    candidates: Vec<CString>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: Option<CString>,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    terminal: bool,
    program: String,
    process_limit: libc::rlim_t,
    /// The stack the command's child runs on until its exec.
    stack: Vec<u8>,
}

/// The command child's stack until its exec (it only makes system calls).
const CHILD_STACK: usize = 64 * 1024;

/// Resolves the user, the program's search path and the environment. What makes the start
/// fail already (exit code 126, and a message for the command's stderr) is reported by the shim
/// all the same, so that a command has one way to end.
pub fn prepare(spawn: &Spawn) -> Prepared {
    prepare_or_fail(spawn).unwrap_or_else(|(code, message)| Prepared {
        failure: Some(format!("failed {code} {message}\n").into_bytes()),
        ..Prepared::default()
    })
}

fn prepare_or_fail(spawn: &Spawn) -> Result<Prepared, (i32, String)> {
    let Some(program) = spawn.argv.first() else {
        return Err((126, "no command given".into()));
    };
    let user = spawn.user.as_deref().unwrap_or("");
    let id = PASSWD
        .with(|passwd| {
            GROUP.with(|group| {
                let (passwd, group) = (passwd.read(), group.read());
                users::resolve(user, &passwd, &group)
            })
        })
        .map_err(|e| (126, e))?;
    if let Some(cwd) = &spawn.cwd {
        if !std::path::Path::new(cwd).is_dir() {
            return Err((
                126,
                format!("cannot change to directory {cwd}: no such directory"),
            ));
        }
    }
    let env = environment(spawn, &id);
    let search = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    let c = |s: &str| CString::new(s).map_err(|_| (126, format!("{s:?} contains a NUL byte")));
    let candidates = if program.contains('/') {
        vec![c(program)?]
    } else {
        let mut paths: Vec<String> = search
            .split(':')
            .map(|dir| if dir.is_empty() { "." } else { dir })
            .map(|dir| format!("{dir}/{program}"))
            .collect();
        // Where the program was found last time, first (if it is still there): each failed
        // exec costs the command a path walk. The exec still decides, as the command's user.
        let key = (search.to_string(), program.clone());
        let found = FOUND.with_borrow(|found| found.get(&key).copied());
        match found.filter(|&i| std::path::Path::new(&paths[i]).is_file()) {
            Some(i) => paths.swap(0, i),
            None => {
                if let Some(i) = paths.iter().position(|p| std::path::Path::new(p).is_file()) {
                    FOUND.with_borrow_mut(|found| {
                        if found.len() >= 256 {
                            found.clear();
                        }
                        found.insert(key, i);
                    });
                    paths.swap(0, i);
                }
            }
        }
        paths.iter().map(|p| c(p)).collect::<Result<_, _>>()?
    };
    Ok(Prepared {
        failure: None,
        candidates,
        argv: spawn.argv.iter().map(|a| c(a)).collect::<Result<_, _>>()?,
        envp: env
            .iter()
            .map(|(k, v)| c(&format!("{k}={v}")))
            .collect::<Result<_, _>>()?,
        cwd: spawn.cwd.as_deref().map(c).transpose()?,
        uid: id.uid,
        gid: id.gid,
        groups: id.groups.clone(),
        terminal: spawn.pty.is_some(),
        program: program.clone(),
        process_limit: PROCESS_LIMIT.load(std::sync::atomic::Ordering::SeqCst),
        stack: vec![0; CHILD_STACK],
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

/// How often the shim tries to start its command while the sandbox has no process to spare,
/// 20 ms apart.
const FORK_ATTEMPTS: u32 = 50;

/// Forks the shim with `stdio` as its 0, 1, 2 and `control` as its reporting channel; returns
/// its pid. The caller keeps its own copies of the descriptors and closes them.
pub fn start(prepared: &Prepared, stdio: [&OwnedFd; 3], control: &OwnedFd) -> std::io::Result<i32> {
    // Pointer arrays for execve, built before the fork.
    let argv: Vec<*const libc::c_char> = prepared
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = prepared
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let fds = [
        stdio[0].as_raw_fd(),
        stdio[1].as_raw_fd(),
        stdio[2].as_raw_fd(),
        control.as_raw_fd(),
    ];
    // SAFETY: the agent is single-threaded; the child runs `shim_child`, which never returns.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => unsafe { shim_child(prepared, fds, &argv, &envp) },
        pid => Ok(pid),
    }
}

/// The shim, in the forked child: raw system calls only, and `_exit` at the end.
unsafe fn shim_child(
    p: &Prepared,
    fds: [i32; 4],
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    // The agent's handlers would write to the agent's signal pipe: ours are the defaults.
    for sig in [
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGQUIT,
    ] {
        libc::signal(sig, libc::SIG_DFL);
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    // Our descriptors: stdio, the control socket, and nothing of the agent's (other commands'
    // pipes held here would keep their output from ending).
    // First out of the way of 0..3, then into place.
    let moved = fds.map(|fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10));
    for (target, fd) in moved[..3].iter().enumerate() {
        libc::dup2(*fd, target as i32);
    }
    libc::dup3(moved[3], CONTROL_FD, libc::O_CLOEXEC);
    close_from(CONTROL_FD + 1);
    libc::setsid();
    libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    if let Some(line) = &p.failure {
        libc::write(CONTROL_FD, line.as_ptr().cast(), line.len());
        libc::_exit(0);
    }

    // The command's child shares our memory until its exec, and we wait until then: a failed
    // start leaves its errno in `start`.
    let mut start = CommandStart {
        prepared: p,
        argv,
        envp,
        errno: 0,
    };
    let stack = p.stack.as_ptr().add(p.stack.len()) as usize & !0xf;
    // Out of processes (the pids limit) is often a moment's state: what an earlier command
    // left, a fork bomb killed at its end, is still being reaped. Wait a little for room.
    let mut child = -1;
    for _ in 0..FORK_ATTEMPTS {
        child = libc::clone(
            command_entry,
            stack as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut start).cast(),
        );
        if child >= 0 || *libc::__errno_location() != libc::EAGAIN {
            break;
        }
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        libc::nanosleep(&pause, std::ptr::null_mut());
    }
    if child < 0 {
        report(b"failed 126 ", b"cannot fork", 0);
        libc::_exit(1);
    }
    let errno = std::ptr::read_volatile(&raw const start.errno);
    if errno != 0 {
        let code = if errno == libc::ENOENT || errno == libc::ENOTDIR {
            127
        } else {
            126
        };
        report_failure(code, &p.program, errno);
        // Reap it, then leave: nothing else of it runs.
        let mut st = 0;
        libc::waitpid(child, &mut st, 0);
        libc::_exit(0);
    }
    report(b"started ", b"", i64::from(child));
    release_stdio();
    loop {
        let mut st = 0;
        let pid = libc::waitpid(-1, &mut st, 0);
        if pid < 0 {
            if *libc::__errno_location() == libc::EINTR {
                continue;
            }
            libc::_exit(0); // ECHILD: the whole tree has ended
        }
        if pid == child {
            if libc::WIFEXITED(st) {
                report(b"exit ", b"", i64::from(libc::WEXITSTATUS(st)));
            } else if libc::WIFSIGNALED(st) {
                report(b"signal ", b"", i64::from(libc::WTERMSIG(st)));
            }
        }
    }
}

/// What the command's child needs, in the shim's memory (which it shares until its exec).
struct CommandStart<'a> {
    prepared: &'a Prepared,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    /// Set by the child when it cannot exec.
    errno: i32,
}

/// The command's child, on its own stack: starts the program, or records why not and exits.
extern "C" fn command_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the shim's `CommandStart`, alive (and the shim suspended) until we exec
    // or exit.
    unsafe {
        let start = &mut *arg.cast::<CommandStart>();
        let errno = command_child(start.prepared, start.argv, start.envp);
        std::ptr::write_volatile(&raw mut start.errno, errno.max(1));
        libc::_exit(127);
    }
}

/// In the command's child: its terminal, its user, its directory, then the program. Returns
/// only on failure, with the errno that explains it.
unsafe fn command_child(
    p: &Prepared,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> i32 {
    // The agent ignores SIGPIPE; a command must not inherit that.
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    // Sandbox limits (only ever lowered): open files, no core dumps, and processes where no
    // cgroup bounds them (RLIMIT_NPROC counts the user's processes, so a fork bomb stops).
    let processes = match p.process_limit {
        0 => libc::RLIM_INFINITY,
        n => n,
    };
    for (resource, most) in [
        (libc::RLIMIT_NOFILE, NOFILE),
        (libc::RLIMIT_CORE, 0),
        (libc::RLIMIT_NPROC, processes),
    ] {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(resource, &mut limit) == 0 {
            limit.rlim_max = limit.rlim_max.min(most);
            limit.rlim_cur = limit.rlim_cur.min(limit.rlim_max);
            libc::setrlimit(resource, &limit);
        }
    }
    if p.terminal {
        // As on a login: the command leads a session whose controlling terminal is its
        // stdin, so job control and Ctrl-C work, and the shim stays out of its way.
        if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
            return *libc::__errno_location();
        }
    }
    if libc::getuid() == 0
        && (libc::setgroups(p.groups.len(), p.groups.as_ptr()) != 0
            || libc::setgid(p.gid) != 0
            || libc::setuid(p.uid) != 0)
    {
        return *libc::__errno_location();
    }
    if let Some(cwd) = &p.cwd {
        if libc::chdir(cwd.as_ptr()) != 0 {
            return *libc::__errno_location();
        }
    }
    // As execvp does: a permission error is remembered, a missing file is not.
    let mut errno = libc::ENOENT;
    for path in &p.candidates {
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        match *libc::__errno_location() {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => errno = libc::EACCES,
            other => return other,
        }
    }
    errno
}

/// Closes every descriptor from `first` on.
unsafe fn close_from(first: i32) {
    if libc::syscall(
        libc::SYS_close_range,
        first as libc::c_uint,
        libc::c_uint::MAX,
        0,
    ) == 0
    {
        return;
    }
    // Kernels before 5.9: every descriptor up to the limit.
    let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(1024, 1 << 20) as i32;
    for fd in first..max {
        libc::close(fd);
    }
}

/// Our copies of the command's stdio must not hold its pipes open: the client sees the end of
/// the output when the command's last process closes them.
unsafe fn release_stdio() {
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
    if null >= 0 {
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::close(null);
    }
}

/// Writes `word text number\n` to the control socket, formatted without allocating.
fn report(word: &[u8], text: &[u8], number: i64) {
    let mut line = [0u8; 512];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(line.len() - 1 - len);
        line[len..len + n].copy_from_slice(&bytes[..n]);
        len += n;
    };
    put(word);
    if text.is_empty() {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = number.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if number < 0 {
            put(b"-");
        }
        put(&digits[i..]);
    } else {
        put(text);
    }
    line[len] = b'\n';
    unsafe { libc::write(CONTROL_FD, line.as_ptr().cast(), len + 1) };
}

/// `failed CODE program: reason`, the reason from the C library's table.
fn report_failure(code: i32, program: &str, errno: i32) {
    let mut text = [0u8; 400];
    let mut len = 0;
    let reason = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) };
    for part in [program.as_bytes(), b": ", reason.to_bytes()] {
        let n = part.len().min(text.len() - len);
        text[len..len + n].copy_from_slice(&part[..n]);
        len += n;
    }
    let word: &[u8] = if code == 127 {
        b"failed 127 "
    } else {
        b"failed 126 "
    };
    report(word, &text[..len], 0);
}
