//! The warm pool: claims hand out started sandboxes no one has used, the pool refills, and
//! what it still holds goes away with it.

use pocketdock::{wait_for_cleanup, Error, Pool};

use crate::support::{unique, TestEngine};

pub fn cases() -> Vec<crate::Case> {
    crate::cases![
        claims_hand_out_fresh_started_sandboxes_and_the_pool_refills,
        dropping_a_pool_removes_only_what_it_still_holds,
        a_failing_creation_reaches_the_claim,
        bad_pool_options_are_refused_at_once,
        the_async_pool_does_the_same,
    ]
}

/// Names of the running test containers carrying `label=value`, as the engine lists them.
fn labelled(e: &TestEngine, label: &str, value: &str) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let docker = e.docker();
    let filters =
        std::collections::HashMap::from([("label".to_string(), vec![format!("{label}={value}")])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    crate::support::rt()
        .block_on(docker.list_containers(Some(opts)))
        .expect("listing containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

fn claims_hand_out_fresh_started_sandboxes_and_the_pool_refills(e: &TestEngine) {
    let mark = unique("pool");
    let pool = Pool::new(e.options().label("pocketdock.test.pool", &mark), 2).unwrap();
    assert_eq!(pool.size(), 2);
    pool.filled().unwrap();
    assert_eq!(pool.ready(), 2);
    let a = pool.claim().unwrap();
    let b = pool.claim().unwrap();
    // Past the two that were ready: this claim waits for the refill.
    let c = pool.claim().unwrap();
    let ids = [a.id(), b.id(), c.id()];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    for sandbox in [&a, &b, &c] {
        assert_eq!(sandbox.transport(), crate::support::expected_transport());
        // Never used before: no mark of an earlier claimer.
        let r = sandbox
            .run("test -e /tmp/claimed && echo reused; echo $$ > /tmp/claimed; echo fresh")
            .unwrap();
        assert_eq!(r.stdout, "fresh\n", "{r:?}");
        assert!(sandbox.info().unwrap().hardening.no_new_privileges);
    }
    // The pool is full again: two ready beside the three claimed.
    pool.filled().unwrap();
    assert_eq!(labelled(e, "pocketdock.test.pool", &mark).len(), 5);
    drop(pool);
    drop((a, b, c));
    wait_for_cleanup(std::time::Duration::from_secs(30));
    assert!(labelled(e, "pocketdock.test.pool", &mark).is_empty());
}

fn dropping_a_pool_removes_only_what_it_still_holds(e: &TestEngine) {
    for persist in [false, true] {
        let mark = unique("pool");
        let pool = Pool::new(
            e.options()
                .persist(persist)
                .label("pocketdock.test.pool", &mark),
            2,
        )
        .unwrap();
        let claimed = pool.claim().unwrap();
        let _guard = crate::support::RemoveOnDrop(e, claimed.id());
        pool.filled().unwrap();
        if persist {
            pool.close();
        } else {
            drop(pool);
            wait_for_cleanup(std::time::Duration::from_secs(30));
        }
        assert_eq!(
            labelled(e, "pocketdock.test.pool", &mark),
            vec![claimed.id()],
            "persist: {persist}"
        );
        assert_eq!(claimed.run("echo still").unwrap().stdout, "still\n");
    }
}

fn a_failing_creation_reaches_the_claim(e: &TestEngine) {
    let pool = Pool::new(e.bare_options().image("pocketdock/no-such-image:nope"), 1).unwrap();
    for _ in 0..2 {
        let err = pool.claim().unwrap_err();
        assert!(matches!(err, Error::ImageNotFound { .. }), "{err:?}");
    }
    assert!(matches!(
        pool.filled().unwrap_err(),
        Error::ImageNotFound { .. }
    ));
    let nowhere = e.options().socket_path("/nonexistent/engine.sock");
    let err = Pool::new(nowhere, 1).unwrap().claim().unwrap_err();
    assert!(matches!(err, Error::SocketConnection { .. }), "{err:?}");
}

fn bad_pool_options_are_refused_at_once(e: &TestEngine) {
    for (options, size) in [
        (e.options(), 0),
        (e.options().name(unique("pooled")), 2),
        (e.options().mem_limit("lots"), 1),
    ] {
        let err = Pool::new(options, size).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
}

fn the_async_pool_does_the_same(e: &TestEngine) {
    let options = e.options();
    crate::support::rt().block_on(async move {
        let pool = pocketdock::aio::Pool::new(options, 1).unwrap();
        let c = pool.claim().await.unwrap();
        assert_eq!(c.run("echo ok").await.unwrap().stdout, "ok\n");
        pool.filled().await.unwrap();
        pool.close().await;
    });
}
