//! Projects: the project label, instance directories with history and logs, destroy, doctor,
//! status and the project's socket. Every case makes a project of its own in a temporary
//! directory and passes it as `project_root` (tests run in parallel threads: no `chdir`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use pocketdock::engine::Discovery;
use pocketdock::{
    create_new_container, destroy_container, doctor, init_project, labels, list_log_files,
    load_config, project_status, read_history, read_instance_metadata, resume_container,
    ContainerOptions, Error, LogKind,
};

use crate::support::{rt, unique, RemoveOnDrop, TestEngine, IMAGE, TEST_LABEL};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        containers_in_a_project_carry_its_label,
        persistent_containers_get_an_instance_dir_with_history_and_logs,
        a_resumed_handle_keeps_logging,
        logging_settings_are_honoured,
        doctor_reports_orphaned_stale_and_healthy,
        status_lists_the_projects_containers,
        the_projects_socket_is_used_when_nothing_else_is_given,
        a_malformed_config_fails_creation_naming_file_line_and_field,
    ]
}

/// A fresh project in a temporary directory (removed with the guard).
fn project(config: Option<&str>) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let name = unique("proj");
    let root = init_project(Some(&dir.path().join("work")), Some(&name)).unwrap();
    if let Some(config) = config {
        std::fs::write(root.join(".pocketdock/pocketdock.yaml"), config).unwrap();
    }
    (dir, root, name)
}

fn label(e: &TestEngine, id: &str, key: &str) -> Option<String> {
    e.inspect(id)
        .config
        .and_then(|c| c.labels)
        .and_then(|l| l.get(key).cloned())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn log_of(dir: &Path, kind: LogKind) -> Vec<String> {
    list_log_files(dir)
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == kind)
        .map(|f| read(&f.path))
        .collect()
}

fn containers_in_a_project_carry_its_label(e: &TestEngine) {
    let (_dir, root, name) = project(None);
    let c = create_new_container(e.options().project_root(&root)).unwrap();
    assert_eq!(c.project(), Some(name.as_str()));
    assert_eq!(label(e, &c.id(), labels::PROJECT), Some(name.clone()));
    assert_eq!(c.data_path(), None, "not persistent: no instance directory");
    assert_eq!(label(e, &c.id(), labels::DATA_PATH), None);
    c.run("true").unwrap();
    assert!(std::fs::read_dir(root.join(".pocketdock/instances"))
        .unwrap()
        .next()
        .is_none());
    // An explicit project name wins over the project's own.
    let c = create_new_container(e.options().project_root(&root).project("other")).unwrap();
    assert_eq!(c.project(), Some("other"));
    assert_eq!(label(e, &c.id(), labels::PROJECT).as_deref(), Some("other"));
    // A root that is no project is an error before anything is created.
    let not_a_project = tempfile::tempdir().unwrap();
    let err = create_new_container(e.options().project_root(not_a_project.path())).unwrap_err();
    assert!(
        matches!(err, Error::ProjectNotInitialized { .. }),
        "{err:?}"
    );
}

fn persistent_containers_get_an_instance_dir_with_history_and_logs(e: &TestEngine) {
    let (_dir, root, project_name) = project(None);
    let name = unique("pdtest-inst");
    let c = create_new_container(
        e.options()
            .project_root(&root)
            .name(&name)
            .persist(true)
            .mem_limit("64m"),
    )
    .unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    let dir = root.join(".pocketdock/instances").join(&name);
    assert_eq!(c.data_path(), Some(dir.as_path()));
    assert_eq!(
        label(e, &c.id(), labels::DATA_PATH),
        Some(dir.to_string_lossy().into_owned())
    );
    let meta = read_instance_metadata(&dir).unwrap();
    assert_eq!(meta.container_id, c.id());
    assert_eq!(
        (meta.name.as_str(), meta.project.as_str(), meta.persist),
        (name.as_str(), project_name.as_str(), true)
    );
    assert_eq!(meta.image, IMAGE);
    assert_eq!(meta.mem_limit.as_deref(), Some("64m"));
    assert!(read(&dir.join("instance.toml")).contains("[container]"));

    // Blocking runs: one history line and one log each.
    assert_eq!(c.run("echo hello").unwrap().stdout, "hello\n");
    let r = c.run("echo oops >&2; exit 3").unwrap();
    assert_eq!(r.exit_code, 3);
    let r = c
        .command("sleep 30")
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap();
    assert!(r.timed_out);
    let history = read_history(&dir, None).unwrap();
    let seen: Vec<(&str, i64, bool)> = history
        .iter()
        .map(|h| (h.command.as_str(), h.exit_code, h.timed_out))
        .collect();
    assert_eq!(
        seen,
        [
            ("echo hello", 0, false),
            ("echo oops >&2; exit 3", 3, false),
            ("sleep 30", -1, true)
        ]
    );
    assert!(history
        .iter()
        .all(|h| h.duration_ms >= 0.0 && !h.timestamp.is_empty()));
    assert_eq!(read_history(&dir, Some(1)).unwrap()[0].command, "sleep 30");
    let runs = log_of(&dir, LogKind::Run);
    assert_eq!(runs.len(), 3);
    assert!(
        runs[0].contains("# command: echo hello") && runs[0].contains("--- stdout ---\nhello\n")
    );
    assert!(runs[1].contains("# exit_code: 3") && runs[1].contains("--- stderr ---\noops\n"));

    // A session: what was sent and what came back.
    let s = c.session().unwrap();
    s.send_and_wait("cd /tmp && echo in-session", None).unwrap();
    s.send_and_wait("pwd", None).unwrap();
    let sessions = log_of(&dir, LogKind::Session);
    assert_eq!(sessions.len(), 1);
    let text = &sessions[0];
    assert!(
        text.starts_with(&format!("# session_id: {}", s.id())),
        "{text}"
    );
    assert!(text.contains(">>> cd /tmp && echo in-session\n"), "{text}");
    assert!(
        text.contains("in-session\n") && text.contains("/tmp\n"),
        "{text}"
    );
    s.close();

    // A detached process: its output, then how it ended.
    let p = c.command("echo out; echo err >&2; exit 4").spawn().unwrap();
    assert_eq!(p.wait(Some(Duration::from_secs(20))).unwrap().exit_code, 4);
    let detached = log_of(&dir, LogKind::Detach);
    assert_eq!(detached.len(), 1);
    let text = &detached[0];
    assert!(
        text.starts_with("# command: echo out; echo err >&2; exit 4"),
        "{text}"
    );
    assert!(
        text.contains("[stdout] out\n") && text.contains("[stderr] err\n"),
        "{text}"
    );
    assert!(text.contains("# exit_code: 4\n"), "{text}");
    // Sessions and detached processes are no blocking runs: the history is unchanged.
    assert_eq!(read_history(&dir, None).unwrap().len(), 3);

    // Destroying the container removes its instance directory.
    destroy_container(&name, Some(&e.socket)).unwrap();
    assert!(!e.exists(&c.id()));
    assert!(!dir.exists());
    assert!(root.join(".pocketdock/instances").is_dir());
}

fn a_resumed_handle_keeps_logging(e: &TestEngine) {
    let (_dir, root, _) = project(None);
    let name = unique("pdtest-resumelog");
    let c =
        create_new_container(e.options().project_root(&root).name(&name).persist(true)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    let dir = c.data_path().unwrap().to_path_buf();
    c.run("echo before").unwrap();
    c.shutdown(false).unwrap();
    drop(c);
    let r = resume_container(&name, Some(&e.socket)).unwrap();
    assert_eq!(r.data_path(), Some(dir.as_path()));
    r.run("echo after").unwrap();
    let commands: Vec<String> = read_history(&dir, None)
        .unwrap()
        .into_iter()
        .map(|h| h.command)
        .collect();
    assert_eq!(commands, ["echo before", "echo after"]);
    // A fresh reboot gives a new id: instance.toml follows.
    r.reboot(true).unwrap();
    let _guard2 = RemoveOnDrop(e, r.id());
    assert_eq!(read_instance_metadata(&dir).unwrap().container_id, r.id());
    r.run("echo rebooted").unwrap();
    assert_eq!(read_history(&dir, None).unwrap().len(), 3);
}

fn logging_settings_are_honoured(e: &TestEngine) {
    // auto_log off: the instance directory and instance.toml, but no logs and no history.
    let (_dir, root, _) = project(Some("logging:\n  auto_log: false\n"));
    let c = create_new_container(e.options().project_root(&root).persist(true)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    let dir = c.data_path().unwrap().to_path_buf();
    c.run("echo quiet").unwrap();
    c.command("true").spawn().unwrap().wait(None).unwrap();
    assert!(dir.join("instance.toml").is_file());
    assert!(read_history(&dir, None).unwrap().is_empty());
    assert!(list_log_files(&dir).unwrap().is_empty());

    // At most two log files, each at most 1 KB; the history keeps every run.
    let (_dir, root, _) = project(Some(
        "logging:\n  max_logs_per_instance: 2\n  max_log_size: 1KB\n",
    ));
    let c = create_new_container(e.options().project_root(&root).persist(true)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    let dir = c.data_path().unwrap().to_path_buf();
    for i in 0..4 {
        c.run(format!("echo run{i}; head -c 5000 /dev/zero | tr '\\0' x"))
            .unwrap();
    }
    let files = list_log_files(&dir).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
    let texts: Vec<String> = files.iter().map(|f| read(&f.path)).collect();
    assert!(texts[0].contains("echo run2") && texts[1].contains("echo run3"));
    for (f, text) in files.iter().zip(&texts) {
        assert!(f.size < 1024 + 100, "{} bytes", f.size);
        assert!(text.ends_with("# log truncated: max_log_size (1024 bytes) reached\n"));
    }
    assert_eq!(read_history(&dir, None).unwrap().len(), 4);
}

fn doctor_reports_orphaned_stale_and_healthy(e: &TestEngine) {
    let (_dir, root, _) = project(None);
    let persistent = |tag: &str| {
        create_new_container(
            e.options()
                .project_root(&root)
                .name(unique(tag))
                .persist(true),
        )
        .unwrap()
    };
    let healthy = persistent("pdtest-healthy");
    let orphan = persistent("pdtest-orphan");
    let _guards = [RemoveOnDrop(e, healthy.id()), RemoveOnDrop(e, orphan.id())];
    // A transient container of the project has no instance directory, and is no orphan.
    let _transient = create_new_container(e.options().project_root(&root)).unwrap();
    std::fs::remove_dir_all(orphan.data_path().unwrap()).unwrap();
    std::fs::create_dir_all(root.join(".pocketdock/instances/pd-long-gone/logs")).unwrap();
    let report = doctor(Some(&root), Some(&e.socket)).unwrap();
    assert_eq!(report.orphaned_containers, [orphan.name().to_string()]);
    assert_eq!(report.stale_instance_dirs, ["pd-long-gone"]);
    assert_eq!(report.healthy, 1);
    // The async API says the same.
    let report_async = rt()
        .block_on(pocketdock::aio::doctor(Some(&root), Some(&e.socket)))
        .unwrap();
    assert_eq!(report_async, report);
    // A container removed behind our back leaves a stale directory.
    e.remove_externally(&healthy.id());
    let report = doctor(Some(&root), Some(&e.socket)).unwrap();
    assert_eq!(
        report.stale_instance_dirs,
        ["pd-long-gone".to_string(), healthy.name().to_string()]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(report.healthy, 0);
    // Outside a project: ProjectNotInitialized.
    let elsewhere = tempfile::tempdir().unwrap();
    let err = doctor(Some(elsewhere.path()), Some(&e.socket)).unwrap_err();
    assert!(
        matches!(err, Error::ProjectNotInitialized { .. }),
        "{err:?}"
    );
}

fn status_lists_the_projects_containers(e: &TestEngine) {
    let (_dir, root, name) = project(None);
    let kept = create_new_container(
        e.options()
            .project_root(&root)
            .name(unique("pdtest-status"))
            .persist(true),
    )
    .unwrap();
    let _guard = RemoveOnDrop(e, kept.id());
    let transient = create_new_container(e.options().project_root(&root)).unwrap();
    kept.shutdown(false).unwrap();
    let status = project_status(Some(&root), Some(&e.socket)).unwrap();
    assert_eq!(status.project.name, name);
    assert_eq!(status.project.root, root);
    assert_eq!(status.project.config.default_profile, "minimal-python");
    let mut seen: Vec<(String, String)> = status
        .containers
        .iter()
        .map(|c| (c.name.clone(), c.status.clone()))
        .collect();
    seen.sort();
    let mut expected = vec![
        (kept.name().to_string(), "exited".to_string()),
        (transient.name().to_string(), "running".to_string()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(status.instance_dirs, [kept.name().to_string()]);
}

fn the_projects_socket_is_used_when_nothing_else_is_given(e: &TestEngine) {
    let config = format!("socket: {}\n", e.socket.display());
    let (_dir, root, _) = project(Some(&config));
    let socket = load_config(Some(&root)).unwrap().socket;
    assert_eq!(socket.as_deref(), Some(e.socket.as_path()));
    // The precedence, without touching the process environment.
    let found = rt()
        .block_on(Discovery::from_sources(None, socket.as_deref()).discover())
        .unwrap();
    assert_eq!(found, e.socket);
    let other = Path::new("/nonexistent/env.sock");
    let d = Discovery::from_sources(Some(other), socket.as_deref());
    assert_eq!(
        d.candidates,
        [other.to_path_buf()],
        "POCKETDOCK_SOCKET wins"
    );
    // A named socket that does not answer fails; it is not replaced by another engine.
    let err = rt()
        .block_on(Discovery::from_sources(None, Some(other)).discover())
        .unwrap_err();
    assert!(matches!(err, Error::PodmanNotRunning { .. }), "{err:?}");
    // Creating in the project with no socket option: the project's socket (unless the
    // environment names one, which comes first).
    if std::env::var_os("POCKETDOCK_SOCKET").is_none() {
        let c = create_new_container(
            ContainerOptions::default()
                .image(IMAGE)
                .label(TEST_LABEL, crate::support::test_run())
                .project_root(&root),
        )
        .unwrap();
        assert_eq!(c.socket_path(), e.socket);
    }
    // An explicit socket beats the project's.
    let (_dir, root, _) = project(Some("socket: /nonexistent/project.sock\n"));
    let c = create_new_container(e.options().project_root(&root)).unwrap();
    assert_eq!(c.socket_path(), e.socket);
}

fn a_malformed_config_fails_creation_naming_file_line_and_field(e: &TestEngine) {
    let (_dir, root, _) = project(Some(
        "project_name: broken\nlogging:\n  auto_log: true\n  colour: red\n",
    ));
    let err = create_new_container(e.options().project_root(&root).persist(true)).unwrap_err();
    match &err {
        Error::ProjectConfig {
            path, line, field, ..
        } => {
            assert_eq!(path, &root.join(".pocketdock/pocketdock.yaml"));
            assert_eq!(*line, Some(4));
            assert_eq!(field.as_deref(), Some("logging.colour"));
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("pocketdock.yaml")
            && message.contains("line 4")
            && message.contains("logging.colour"),
        "{message}"
    );
    assert!(std::fs::read_dir(root.join(".pocketdock/instances"))
        .unwrap()
        .next()
        .is_none());
}
