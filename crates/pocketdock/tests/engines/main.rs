//! Integration tests against real engines: every case runs once per engine under test
//! (`POCKETDOCK_TEST_ENGINES`, default `podman,docker`), as `<engine>::<case>`. After the run,
//! the harness fails if any test-labelled container is left on an engine.
#![allow(clippy::print_stderr)]

mod aio;
mod blocking;
mod commands;
mod detached;
mod engine_services;
mod files;
mod hardening;
mod images;
mod lifecycle;
mod orphans;
mod persistence;
mod pool;
mod process_control;
mod projects;
mod resources;
mod sessions;
mod streaming;
mod support;
mod terminals;

use libtest_mimic::{Arguments, Failed, Trial};
use support::TestEngine;

/// One test case: runs against one engine; `only` restricts it to one engine kind.
#[derive(Debug)]
pub struct Case {
    /// `module::function`, so one filter selects a whole area (`cargo test -- ::files::`).
    pub name: String,
    pub run: fn(&TestEngine),
    pub only: Option<&'static str>,
}

#[macro_export]
macro_rules! cases {
    ($($f:ident),* $(,)?) => {
        vec![$($crate::Case {
            name: format!("{}::{}", module_path!().rsplit("::").next().unwrap_or(""), stringify!($f)),
            run: $f,
            only: None,
        }),*]
    };
}

fn main() {
    if let Ok(socket) = std::env::var(orphans::HOLDER_SOCKET) {
        orphans::hold_sandboxes(&socket);
    }
    if let Ok(spec) = std::env::var(streaming::FLOOD_CLIENT) {
        streaming::read_a_flood(&spec);
    }
    let mut args = Arguments::from_args();
    // Engine round-trips dominate, not CPU: run more cases at once than there are cores.
    if args.test_threads.is_none() {
        args.test_threads = Some(8);
    }
    let engines = support::engines_from_env();
    let cases: Vec<Case> = [
        blocking::cases(),
        commands::cases(),
        process_control::cases(),
        streaming::cases(),
        detached::cases(),
        images::cases(),
        files::cases(),
        hardening::cases(),
        lifecycle::cases(),
        engine_services::cases(),
        orphans::cases(),
        resources::cases(),
        persistence::cases(),
        pool::cases(),
        projects::cases(),
        sessions::cases(),
        terminals::cases(),
        aio::cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut trials = Vec::new();
    for engine in &engines {
        for case in &cases {
            if case.only.is_some_and(|only| only != engine.name) {
                continue;
            }
            let engine = engine.clone();
            let run = case.run;
            trials.push(Trial::test(
                format!("{}::{}", engine.name, case.name),
                move || {
                    run(&engine);
                    Ok::<(), Failed>(())
                },
            ));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    support::remove_shared_sandboxes();
    // Handles dropped inside a runtime are removed in the background: let that finish.
    pocketdock::wait_for_cleanup(std::time::Duration::from_secs(60));
    let mut leaked = false;
    for engine in &engines {
        let left = engine.leftover_test_containers();
        if !left.is_empty() {
            eprintln!("LEAK: test containers left on {}: {left:?}", engine.name);
            leaked = true;
        }
    }
    if leaked {
        std::process::exit(101);
    }
    conclusion.exit();
}
