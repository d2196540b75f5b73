//! Building images offline, and moving them through `.tar` / `.tar.gz` archives.

use pocketdock::{build_image_from_dir, create_new_container, export_images, import_images, Error};

use crate::support::{rt, unique, RemoveImageOnDrop, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        a_profile_like_dockerfile_builds_from_the_local_image,
        a_build_whose_base_is_missing_fails_clearly,
        images_round_trip_through_tar_and_tar_gz,
    ]
}

fn image_exists(e: &TestEngine, tag: &str) -> bool {
    let docker = e.docker();
    rt().block_on(async { docker.inspect_image(tag).await })
        .is_ok()
}

/// A profile-like build context whose `FROM` is a locally imported test image (the 2 MB
/// busybox one, so that the archive round trip stays fast).
fn context(dir: &std::path::Path) {
    std::fs::write(
        dir.join("Dockerfile"),
        // A label unique to this build first: Docker's build cache must not make one test's
        // image a parent of another's, which the other test then removes.
        format!(
            "FROM pocketdock/busybox\nLABEL pocketdock.test.build={}\nCOPY hello.txt /home/sandbox/hello.txt\nUSER sandbox\nWORKDIR /home/sandbox\nCMD [\"sleep\", \"infinity\"]\n",
            unique("build")
        ),
    )
    .unwrap();
    std::fs::write(dir.join("hello.txt"), "built offline\n").unwrap();
}

fn build(e: &TestEngine, tag: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    context(dir.path());
    let mut lines = Vec::new();
    build_image_from_dir(dir.path(), tag, Some(&e.socket), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    lines
}

fn a_profile_like_dockerfile_builds_from_the_local_image(e: &TestEngine) {
    let tag = format!("pocketdock-test/built:{}", unique("b"));
    let _cleanup = RemoveImageOnDrop(e, tag.clone());
    let lines = build(e, &tag);
    assert!(
        lines.iter().any(|l| l.contains("COPY")),
        "build output is streamed: {lines:?}"
    );
    let c = create_new_container(e.options().image(&tag)).unwrap();
    assert_eq!(
        c.run("cat hello.txt; whoami").unwrap().stdout,
        "built offline\nsandbox\n"
    );
}

fn a_build_whose_base_is_missing_fails_clearly(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM localhost/pocketdock-no-such-base:1\n",
    )
    .unwrap();
    let tag = format!("pocketdock-test/broken:{}", unique("b"));
    // Named at once, before the engine would go looking for a registry.
    let err = build_image_from_dir(dir.path(), &tag, Some(&e.socket), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::ImageNotFound { ref image } if image == "localhost/pocketdock-no-such-base:1"),
        "{err:?}"
    );
    // A step that fails fails the build, with the image named.
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM pocketdock/busybox\nRUN false\n",
    )
    .unwrap();
    let err = build_image_from_dir(dir.path(), &tag, Some(&e.socket), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, Error::Image { ref image, .. } if *image == tag),
        "{err:?}"
    );
    assert!(!image_exists(e, &tag));
    let err = build_image_from_dir(&dir.path().join("nope"), &tag, Some(&e.socket), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

fn images_round_trip_through_tar_and_tar_gz(e: &TestEngine) {
    let tag = format!("pocketdock-test/moved:{}", unique("m"));
    let _cleanup = RemoveImageOnDrop(e, tag.clone());
    build(e, &tag);
    let dir = tempfile::tempdir().unwrap();
    for name in ["images.tar", "images.tar.gz"] {
        let archive = dir.path().join(name);
        let written = export_images(&[&tag], &archive, Some(&e.socket)).unwrap();
        assert_eq!(written, std::fs::metadata(&archive).unwrap().len());
        let head = std::fs::read(&archive).unwrap();
        assert_eq!(
            head.starts_with(&[0x1f, 0x8b]),
            name.ends_with(".gz"),
            "{name} compression"
        );
        drop(RemoveImageOnDrop(e, tag.clone()));
        assert!(!image_exists(e, &tag));
        import_images(&archive, Some(&e.socket)).unwrap();
        assert!(image_exists(e, &tag), "{name} brought the image back");
    }
    let c = create_new_container(e.options().image(&tag)).unwrap();
    assert_eq!(c.run("cat hello.txt").unwrap().stdout, "built offline\n");
    let err = export_images(
        &["pocketdock-test/none:x"],
        &dir.path().join("x.tar"),
        Some(&e.socket),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err:?}");
    let err = import_images(&dir.path().join("missing.tar"), Some(&e.socket)).unwrap_err();
    assert!(err.is_file_not_found(), "{err:?}");
}
