//! Lifecycle and persistence: reboot, snapshot, resume, list, stop, destroy, prune.

use std::time::Duration;

use pocketdock::{
    create_new_container, destroy_container, list_containers, prune, resume_container,
    stop_container, Error,
};

use crate::support::{unique, RemoveImageOnDrop, RemoveOnDrop, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        reboot_in_place_keeps_files_and_ends_processes,
        fresh_reboot_recreates_with_the_same_config,
        snapshot_is_usable_as_an_image,
        resume_brings_back_the_configuration,
        list_stop_and_destroy_by_name,
        prune_removes_only_stopped_containers_of_the_project,
        names_of_unknown_or_foreign_containers_are_not_found,
    ]
}

fn reboot_in_place_keeps_files_and_ends_processes(e: &TestEngine) {
    let c = e.sandbox();
    c.run("echo kept > /home/sandbox/file").unwrap();
    let p = c.command("sleep 600").spawn().unwrap();
    let id = c.id();
    c.reboot(false).unwrap();
    assert_eq!(c.id(), id);
    assert_eq!(c.run("cat /home/sandbox/file").unwrap().stdout, "kept\n");
    assert!(!c.run("ps -eo args=").unwrap().stdout.contains("sleep 600"));
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert!(
        !r.timed_out,
        "the detached process ended with the reboot: {r:?}"
    );
}

fn fresh_reboot_recreates_with_the_same_config(e: &TestEngine) {
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = create_new_container(
        e.options()
            .mem_limit("96m")
            .port(host_port, 9000)
            .timeout(Duration::from_secs(7)),
    )
    .unwrap();
    c.run("echo gone > /home/sandbox/file").unwrap();
    let old = c.id();
    c.reboot(true).unwrap();
    assert_ne!(c.id(), old);
    assert!(!e.exists(&old));
    assert_eq!(
        c.run("cat /home/sandbox/file 2>/dev/null || echo fresh")
            .unwrap()
            .stdout,
        "fresh\n"
    );
    let info = e.inspect(&c.id());
    assert_eq!(
        info.name.as_deref(),
        Some(format!("/{}", c.name()).as_str())
    );
    let hc = info.host_config.unwrap();
    if crate::support::cgroup_limits_apply() {
        assert_eq!(hc.memory, Some(96 << 20));
    }
    let bound = hc.port_bindings.unwrap()["9000/tcp"].clone().unwrap();
    assert_eq!(
        bound[0].host_port.as_deref(),
        Some(host_port.to_string().as_str())
    );
    let labels = info.config.unwrap().labels.unwrap();
    assert_eq!(labels[pocketdock::labels::INSTANCE], c.name());
    assert_eq!(
        labels[crate::support::TEST_LABEL],
        crate::support::test_run()
    );
}

fn snapshot_is_usable_as_an_image(e: &TestEngine) {
    let c = e.sandbox();
    c.run("echo inside > /home/sandbox/snap.txt").unwrap();
    let tag = unique("t");
    let image = format!("pocketdock-test/snap:{tag}");
    let image_id = c.snapshot(&image).unwrap();
    assert!(!image_id.is_empty());
    let _cleanup = RemoveImageOnDrop(e, image.clone());
    let from_snapshot = create_new_container(e.options().image(&image)).unwrap();
    assert_eq!(
        from_snapshot
            .run("cat /home/sandbox/snap.txt")
            .unwrap()
            .stdout,
        "inside\n"
    );
    assert!(matches!(
        c.snapshot("Not Valid"),
        Err(Error::InvalidArgument { .. })
    ));
}

fn resume_brings_back_the_configuration(e: &TestEngine) {
    let name = unique("pdtest-resume");
    let c = create_new_container(
        e.options()
            .name(&name)
            .persist(true)
            .mem_limit("80m")
            .timeout(Duration::from_millis(1500)),
    )
    .unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    c.run("echo state > /home/sandbox/s").unwrap();
    c.shutdown(false).unwrap();
    drop(c);
    let r = resume_container(&name, Some(&e.socket)).unwrap();
    assert!(r.persist());
    assert_eq!(r.name(), name);
    assert_eq!(
        r.default_timeout(),
        Duration::from_millis(1500),
        "timeout comes back from the labels"
    );
    assert_eq!(r.run("cat /home/sandbox/s").unwrap().stdout, "state\n");
    assert!(r.run("sleep 5").unwrap().timed_out);
    if crate::support::cgroup_limits_apply() {
        assert_eq!(
            e.inspect(&r.id()).host_config.unwrap().memory,
            Some(80 << 20)
        );
    }
    // Resuming a running container just hands it over.
    let again = resume_container(&name, Some(&e.socket)).unwrap();
    assert_eq!(again.id(), r.id());
}

fn list_stop_and_destroy_by_name(e: &TestEngine) {
    let project = unique("proj");
    let name = unique("pdtest-list");
    let c = create_new_container(e.options().name(&name).persist(true).project(&project)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    let listed = list_containers(Some(&project), Some(&e.socket)).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let item = &listed[0];
    assert_eq!(
        (
            item.name.as_str(),
            item.status.as_str(),
            item.persist,
            item.project.as_str()
        ),
        (name.as_str(), "running", true, project.as_str())
    );
    assert_eq!(item.id, c.id());
    assert!(item.image.contains("pocketdock/minimal-python"));
    assert!(list_containers(None, Some(&e.socket))
        .unwrap()
        .iter()
        .any(|i| i.name == name));
    stop_container(&name, Some(&e.socket)).unwrap();
    assert_eq!(
        list_containers(Some(&project), Some(&e.socket)).unwrap()[0].status,
        "exited"
    );
    destroy_container(&name, Some(&e.socket)).unwrap();
    assert!(!e.exists(&c.id()));
    assert!(list_containers(Some(&project), Some(&e.socket))
        .unwrap()
        .is_empty());
}

fn prune_removes_only_stopped_containers_of_the_project(e: &TestEngine) {
    let project = unique("prune");
    let make = || create_new_container(e.options().persist(true).project(&project)).unwrap();
    let (a, b, running) = (make(), make(), make());
    let _guards = [
        RemoveOnDrop(e, a.id()),
        RemoveOnDrop(e, b.id()),
        RemoveOnDrop(e, running.id()),
    ];
    a.shutdown(true).unwrap();
    b.shutdown(true).unwrap();
    assert_eq!(prune(Some(&project), Some(&e.socket)).unwrap(), 2);
    assert!(!e.exists(&a.id()) && !e.exists(&b.id()));
    assert!(e.exists(&running.id()));
    assert_eq!(prune(Some(&project), Some(&e.socket)).unwrap(), 0);
}

fn names_of_unknown_or_foreign_containers_are_not_found(e: &TestEngine) {
    for f in [
        |n: &str, s: &std::path::Path| resume_container(n, Some(s)).map(|_| ()),
        |n: &str, s: &std::path::Path| stop_container(n, Some(s)),
        |n: &str, s: &std::path::Path| destroy_container(n, Some(s)),
    ] {
        let err = f("pd-no-such-sandbox", &e.socket).unwrap_err();
        assert!(matches!(err, Error::ContainerNotFound { .. }), "{err:?}");
    }
}
