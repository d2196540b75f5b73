//! pocketdock's in-sandbox agent. One static binary, three roles:
//! - `init`: PID 1 — reaps orphans, serves the client on a unix socket, ends everything on
//!   SIGTERM, and runs the image's own entrypoint as an ordinary child;
//! - per command, a forked shim (no exec: see `shim`) — a child subreaper in its own session,
//!   so that everything the command starts (after `setsid`, double forks, `env -i`) stays its
//!   descendant;
//! - `bridge`: relays stdin/stdout to the agent's socket, for clients that cannot reach the
//!   socket directly (one long-lived engine exec).

mod bridge;
mod command;
mod init;
mod outbox;
mod server;
mod shim;
mod splice;
mod sys;
mod tree;
mod users;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("init") => init::main(&args[1..]),
        Some("bridge") => bridge::main(),
        Some("kill") => kill_marked(&args[1..]),
        Some("rename") => rename(&args[1..]),
        _ => {
            eprintln!(
                "usage: pocketdock-agent init [--user USER] [-- ENTRYPOINT...] | bridge | kill MARK SIGNAL | rename FROM TO..."
            );
            2
        }
    };
    std::process::exit(code);
}

/// `rename FROM TO [FROM TO]...`: rename(2) of each pair in order, which replaces a file at TO
/// whole or not at all (how the client puts uploaded files in place); stops at the first
/// failure.
fn rename(args: &[String]) -> i32 {
    if args.is_empty() || !args.len().is_multiple_of(2) {
        eprintln!("usage: pocketdock-agent rename FROM TO [FROM TO]...");
        return 2;
    }
    for pair in args.chunks(2) {
        if let Err(e) = std::fs::rename(&pair[0], &pair[1]) {
            eprintln!("{}: {e}", pair[1]);
            return 1;
        }
    }
    0
}

/// `kill MARK SIGNAL [SPARE]`: signals an engine exec's processes and all their descendants;
/// prints how many got it.
fn kill_marked(args: &[String]) -> i32 {
    let (Some(mark), Some(Ok(signal))) = (args.first(), args.get(1).map(|s| s.parse::<i32>()))
    else {
        eprintln!("usage: pocketdock-agent kill MARK SIGNAL [SPARE_PID]");
        return 2;
    };
    let spare = args.get(2).and_then(|s| s.parse().ok());
    println!("{}", tree::signal_marked(mark, signal, spare));
    0
}
