//! Files: write/read/list, push/pull with `cp -r` semantics, typed errors, streaming in bounded
//! memory. Container-side checks go through `run`, host-side ones through `std::fs`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

use pocketdock::{create_new_container, Container, Error};

use crate::support::{rt, unique, TestEngine, BUSYBOX_IMAGE};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        write_then_read_round_trips_every_byte,
        a_write_lands_whole_and_leaves_no_temporary_file,
        a_push_cut_midway_leaves_no_partial_file,
        write_creates_parents_owned_by_the_sandbox_user,
        relative_paths_start_at_the_working_directory,
        read_follows_symlinks_and_refuses_directories,
        missing_files_are_file_not_found,
        list_marks_directories_and_keeps_odd_names,
        list_defaults_to_home_and_reports_bad_paths,
        pushed_tree_keeps_modes_symlinks_and_belongs_to_the_sandbox_user,
        pull_brings_a_tree_back_identical,
        push_follows_cp_semantics,
        pull_follows_cp_semantics,
        type_conflicts_are_refused,
        missing_sources_are_not_found,
        busybox_sandbox_supports_files,
        async_api_does_the_same,
        stopped_container_gives_container_not_running,
        removed_container_gives_container_gone,
        two_hundred_megabytes_stream_in_bounded_memory,
    ]
}

/// Runs a shell command that must succeed; its stdout.
fn sh(c: &Container, command: &str) -> String {
    let r = c.run(command).unwrap();
    assert!(r.ok(), "{command}: {r:?}");
    r.stdout
}

fn every_byte() -> Vec<u8> {
    // All 256 values (so invalid UTF-8 and NULs), more than one 512-byte tar block, odd length.
    (0..2049u32).map(|i| (i * 7 % 256) as u8).collect()
}

fn write_then_read_round_trips_every_byte(e: &TestEngine) {
    let c = e.shared();
    let path = format!("/tmp/{}.bin", unique("bytes"));
    c.write_file(&path, every_byte()).unwrap();
    assert_eq!(c.read_file(&path).unwrap(), every_byte());
    assert_eq!(sh(&c, &format!("wc -c < {path}")).trim(), "2049");
    // Overwriting with something shorter leaves nothing of the old content.
    c.write_file(&path, "short").unwrap();
    assert_eq!(c.read_file(&path).unwrap(), b"short");
    c.write_file(&path, b"").unwrap();
    assert_eq!(c.read_file(&path).unwrap(), b"");
}

fn write_creates_parents_owned_by_the_sandbox_user(e: &TestEngine) {
    let c = e.shared();
    let top = format!("/home/sandbox/{}", unique("parents"));
    let file = format!("{top}/a/b/c.txt");
    c.write_file(&file, "hello\n").unwrap();
    assert_eq!(c.read_file(&file).unwrap(), b"hello\n");
    let stats = sh(&c, &format!("stat -c '%U:%G %a %F' {top} {top}/a/b {file}"));
    assert_eq!(
        stats,
        "sandbox:sandbox 755 directory\nsandbox:sandbox 755 directory\n\
         sandbox:sandbox 644 regular file\n"
    );
    // The sandbox user can change what it was given, and add next to it.
    sh(&c, &format!("echo more >> {file} && touch {top}/a/b/new"));
    // A long path (past the 100 bytes of a plain tar header) works as well.
    let long = format!("{top}/{}/{}.txt", "d".repeat(90), "f".repeat(120));
    c.write_file(&long, "long").unwrap();
    assert_eq!(c.read_file(&long).unwrap(), b"long");
}

fn relative_paths_start_at_the_working_directory(e: &TestEngine) {
    let c = e.shared();
    let name = unique("rel");
    c.write_file(&format!("{name}/x.txt"), "x").unwrap();
    assert_eq!(sh(&c, &format!("cat /home/sandbox/{name}/x.txt")), "x");
    assert_eq!(
        c.read_file(&format!("./{name}/../{name}/x.txt")).unwrap(),
        b"x"
    );
    assert_eq!(c.list_files(Some(&name)).unwrap(), ["x.txt"]);
}

fn read_follows_symlinks_and_refuses_directories(e: &TestEngine) {
    let c = e.shared();
    let dir = format!("/tmp/{}", unique("links"));
    sh(
        &c,
        &format!("mkdir {dir} && printf target > {dir}/t && ln -s t {dir}/rel && ln -s {dir}/rel {dir}/chain"),
    );
    assert_eq!(c.read_file(&format!("{dir}/rel")).unwrap(), b"target");
    assert_eq!(c.read_file(&format!("{dir}/chain")).unwrap(), b"target");
    let err = c.read_file(&dir).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

fn missing_files_are_file_not_found(e: &TestEngine) {
    let c = e.shared();
    let path = format!("/tmp/{}/nothing.txt", unique("missing"));
    let err = c.read_file(&path).unwrap_err();
    match &err {
        Error::FileNotFound {
            container_id,
            path: p,
        } => {
            assert_eq!(container_id, &c.id().to_string());
            assert_eq!(p, &path);
        }
        other => panic!("expected FileNotFound, got {other:?}"),
    }
    assert!(err.is_file_not_found());
    // A dangling symlink has nothing to read either.
    let dangling = format!("/tmp/{}", unique("dangling"));
    sh(&c, &format!("ln -s /nowhere/at/all {dangling}"));
    let err = c.read_file(&dangling).unwrap_err();
    assert!(err.is_file_not_found(), "{err:?}");
}

fn list_marks_directories_and_keeps_odd_names(e: &TestEngine) {
    let c = e.shared();
    let dir = format!("/tmp/{}", unique("list"));
    sh(
        &c,
        &format!(
            "mkdir -p {dir}/sub '{dir}/dir with space' && cd {dir} && touch plain 'a b' \
             \"$(printf 'new\\nline')\" .hidden && ln -s sub link-to-dir && ln -s nowhere dangling"
        ),
    );
    c.write_file(&format!("{dir}/\u{e9}t\u{e9}.txt"), "utf8")
        .unwrap();
    assert_eq!(
        c.list_files(Some(&dir)).unwrap(),
        [
            ".hidden",
            "a b",
            "dangling",
            "dir with space/",
            "link-to-dir",
            "new\nline",
            "plain",
            "sub/",
            "\u{e9}t\u{e9}.txt",
        ]
    );
    assert!(c
        .list_files(Some(&format!("{dir}/sub")))
        .unwrap()
        .is_empty());
}

fn list_defaults_to_home_and_reports_bad_paths(e: &TestEngine) {
    let c = e.shared();
    let name = unique("home");
    c.write_file(&format!("/home/sandbox/{name}"), "x").unwrap();
    assert!(c.list_files(None).unwrap().contains(&name));
    let err = c.list_files(Some("/no/such/dir")).unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err:?}");
    let err = c.list_files(Some("/etc/passwd")).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

/// A host tree with what a copy must keep: modes, symlinks (inside, outside, dangling), odd
/// names, binary content, an empty directory.
fn host_tree(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("secret"), "s").unwrap();
    fs::set_permissions(root.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("sub/deeper/bytes.bin"), every_byte()).unwrap();
    fs::write(root.join("sub/a b\nc"), "odd").unwrap();
    std::os::unix::fs::symlink("sub/deeper/bytes.bin", root.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../../outside", root.join("sub/up-link")).unwrap();
}

/// Every entry below `root`: relative path, kind, mode, content or link target.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let what = if meta.is_symlink() {
                format!("-> {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode() & 0o7777)
            } else {
                format!("{:o} {:?}", meta.mode() & 0o7777, fs::read(&path).unwrap())
            };
            out.push(format!("{rel:?} {what}"));
        }
    }
    out.sort();
    out
}

fn pushed_tree_keeps_modes_symlinks_and_belongs_to_the_sandbox_user(e: &TestEngine) {
    let c = e.shared();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    host_tree(&src);
    let dest = format!("/tmp/{}/copy", unique("push"));
    c.push(&src, &dest).unwrap();
    let listing = sh(
        &c,
        &format!(
            "cd {dest} && stat -c '%n|%a|%U|%F' run.sh secret sub sub/deeper empty rel-link \
             && readlink rel-link abs-link sub/up-link && ./run.sh && cat sub/a\\ b?c"
        ),
    );
    assert_eq!(
        listing,
        "run.sh|755|sandbox|regular file\nsecret|600|sandbox|regular file\n\
         sub|755|sandbox|directory\nsub/deeper|755|sandbox|directory\n\
         empty|755|sandbox|directory\nrel-link|777|sandbox|symbolic link\n\
         sub/deeper/bytes.bin\n/etc/hostname\n../../outside\nran\nodd"
    );
    assert_eq!(
        c.read_file(&format!("{dest}/sub/deeper/bytes.bin"))
            .unwrap(),
        every_byte()
    );
}

fn pull_brings_a_tree_back_identical(e: &TestEngine) {
    let c = e.shared();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    host_tree(&src);
    let dest = format!("/tmp/{}", unique("roundtrip"));
    c.push(&src, &dest).unwrap();
    let back = tmp.path().join("back");
    c.pull(&dest, &back).unwrap();
    assert_eq!(describe(&back), describe(&src));
    // The symlink pointing outside came back as a symlink; nothing was written through it.
    assert!(!tmp.path().join("outside").exists());
}

fn push_follows_cp_semantics(e: &TestEngine) {
    let c = e.shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("srcdir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("inner.txt"), "inner").unwrap();
    let file = tmp.path().join("one.txt");
    fs::write(&file, "one").unwrap();
    let base = format!("/tmp/{}", unique("cp-in"));
    sh(&c, &format!("mkdir -p {base}/existing"));

    // A destination that does not exist becomes the copy (parents included).
    c.push(&dir, &format!("{base}/new/copy")).unwrap();
    c.push(&file, &format!("{base}/renamed.txt")).unwrap();
    // An existing directory receives the source under its own name.
    c.push(&dir, &format!("{base}/existing")).unwrap();
    c.push(&file, &format!("{base}/existing")).unwrap();
    // An existing file is overwritten.
    c.push(&file, &format!("{base}/renamed.txt")).unwrap();
    let found = sh(&c, &format!("cd {base} && find . | sort"));
    assert_eq!(
        found,
        ".\n./existing\n./existing/one.txt\n./existing/srcdir\n./existing/srcdir/inner.txt\n\
         ./new\n./new/copy\n./new/copy/inner.txt\n./renamed.txt\n"
    );
    assert_eq!(
        sh(&c, &format!("cat {base}/existing/srcdir/inner.txt")),
        "inner"
    );
    assert_eq!(sh(&c, &format!("cat {base}/renamed.txt")), "one");
}

fn pull_follows_cp_semantics(e: &TestEngine) {
    let c = e.shared();
    let base = format!("/tmp/{}", unique("cp-out"));
    sh(
        &c,
        &format!(
            "mkdir -p {base}/d/sub && echo inner > {base}/d/sub/f && echo one > {base}/one.txt"
        ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path();
    fs::create_dir(host.join("existing")).unwrap();

    c.pull(&format!("{base}/d"), host.join("new/copy")).unwrap();
    c.pull(&format!("{base}/one.txt"), host.join("renamed.txt"))
        .unwrap();
    c.pull(&format!("{base}/d"), host.join("existing")).unwrap();
    c.pull(&format!("{base}/one.txt"), host.join("existing"))
        .unwrap();
    fs::write(host.join("renamed.txt"), "old and longer").unwrap();
    c.pull(&format!("{base}/one.txt"), host.join("renamed.txt"))
        .unwrap();

    assert_eq!(fs::read(host.join("new/copy/sub/f")).unwrap(), b"inner\n");
    assert_eq!(fs::read(host.join("existing/d/sub/f")).unwrap(), b"inner\n");
    assert_eq!(fs::read(host.join("existing/one.txt")).unwrap(), b"one\n");
    assert_eq!(fs::read(host.join("renamed.txt")).unwrap(), b"one\n");
    assert!(!host.join("existing/sub").exists() && !host.join("new/d").exists());
}

fn type_conflicts_are_refused(e: &TestEngine) {
    let c = e.shared();
    let base = format!("/tmp/{}", unique("conflict"));
    // `into/f` is a directory where a file `f` would go, `into/d` a file where a directory would.
    sh(
        &c,
        &format!(
            "mkdir -p {base}/dir {base}/into/f && echo x > {base}/file && echo x > {base}/into/d"
        ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let host_dir = tmp.path().join("d");
    fs::create_dir(&host_dir).unwrap();
    let host_file = tmp.path().join("f");
    fs::write(&host_file, "f").unwrap();

    let invalid = |r: pocketdock::Result<()>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(invalid(c.write_file(&format!("{base}/dir"), "x")));
    assert!(invalid(c.write_file(&format!("{base}/file/below"), "x")));
    assert!(invalid(c.push(&host_dir, &format!("{base}/file"))));
    assert!(invalid(c.push(&host_file, &format!("{base}/into"))));
    assert!(invalid(c.push(&host_dir, &format!("{base}/into"))));
    assert_eq!(sh(&c, &format!("cd {base}/into && ls -p")), "d\nf/\n");
    let err = c.pull(&format!("{base}/dir"), &host_file).unwrap_err();
    assert!(matches!(err, Error::HostFile { .. }), "{err:?}");
    assert_eq!(fs::read(&host_file).unwrap(), b"f");
    assert_eq!(sh(&c, &format!("cat {base}/file")), "x\n");
}

fn missing_sources_are_not_found(e: &TestEngine) {
    let c = e.shared();
    let tmp = tempfile::tempdir().unwrap();
    let dest = format!("/tmp/{}", unique("never"));
    let err = c.push(tmp.path().join("no-such-file"), &dest).unwrap_err();
    assert!(
        matches!(&err, Error::HostFile { kind, .. } if *kind == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(err.is_file_not_found());
    assert_eq!(
        c.run(format!("test -e {dest}")).unwrap().exit_code,
        1,
        "nothing may be created for a missing source"
    );
    let host_dest = tmp.path().join("out");
    let err = c.pull("/no/such/source", &host_dest).unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err:?}");
    assert!(!host_dest.exists());
}

fn busybox_sandbox_supports_files(e: &TestEngine) {
    let c = create_new_container(e.options().image(BUSYBOX_IMAGE)).unwrap();
    let dir = format!("/tmp/{}", unique("bb"));
    c.write_file(&format!("{dir}/x y/f.bin"), every_byte())
        .unwrap();
    assert_eq!(
        c.read_file(&format!("{dir}/x y/f.bin")).unwrap(),
        every_byte()
    );
    assert_eq!(c.list_files(Some(&dir)).unwrap(), ["x y/"]);
    let tmp = tempfile::tempdir().unwrap();
    c.pull(&dir, tmp.path().join("back")).unwrap();
    assert_eq!(
        fs::read(tmp.path().join("back/x y/f.bin")).unwrap(),
        every_byte()
    );
}

fn async_api_does_the_same(e: &TestEngine) {
    let c = e.shared();
    let a = c.as_async().clone();
    let tmp = tempfile::tempdir().unwrap();
    let dir = format!("/tmp/{}", unique("aio"));
    rt().block_on(async {
        a.write_file(&format!("{dir}/f"), vec![0xffu8, 0, 1])
            .await
            .unwrap();
        assert_eq!(
            a.read_file(&format!("{dir}/f")).await.unwrap(),
            [0xff, 0, 1]
        );
        assert_eq!(a.list_files(Some(&dir)).await.unwrap(), ["f"]);
        a.pull(&dir, tmp.path().join("d")).await.unwrap();
        a.push(tmp.path().join("d"), &format!("{dir}/again"))
            .await
            .unwrap();
        assert_eq!(
            a.read_file(&format!("{dir}/again/f")).await.unwrap(),
            [0xff, 0, 1]
        );
    });
}

/// Every file operation on `c`, each expected to fail.
fn every_operation_fails(c: &Container, check: impl Fn(&str, Error)) {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f"), "x").unwrap();
    check("write_file", c.write_file("/tmp/x", "x").unwrap_err());
    check("read_file", c.read_file("/etc/hostname").unwrap_err());
    check("list_files", c.list_files(None).unwrap_err());
    check("push", c.push(tmp.path().join("f"), "/tmp").unwrap_err());
    check(
        "pull",
        c.pull("/etc/hostname", tmp.path().join("g")).unwrap_err(),
    );
    assert!(!tmp.path().join("g").exists());
}

fn stopped_container_gives_container_not_running(e: &TestEngine) {
    let c = create_new_container(e.options().persist(true)).unwrap();
    let _guard = crate::support::RemoveOnDrop(e, c.id().to_string());
    c.shutdown(true).unwrap();
    every_operation_fails(&c, |op, err| {
        assert!(
            matches!(err, Error::ContainerNotRunning { .. }),
            "{op}: {err:?}"
        );
    });
}

fn removed_container_gives_container_gone(e: &TestEngine) {
    let c = e.sandbox();
    e.remove_externally(&c.id().to_string());
    every_operation_fails(&c, |op, err| {
        assert!(matches!(err, Error::ContainerGone { .. }), "{op}: {err:?}");
    });
}

/// Peak resident memory growth of this process while `f` runs, in bytes. The peak (VmHWM) is
/// reset first, so it is this call's peak. Other tests run in the same process: their memory
/// counts too, which only makes the bound stricter.
fn peak_growth(f: impl FnOnce()) -> u64 {
    fn status_kb(field: &str) -> u64 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    // "5" resets the peak to the current RSS (Linux ≥ 4.0).
    fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM");
    let before = status_kb("VmRSS:");
    f();
    status_kb("VmHWM:").saturating_sub(before) * 1024
}

/// The two engines' cases must not measure each other.
static BIG: Mutex<()> = Mutex::new(());

fn two_hundred_megabytes_stream_in_bounded_memory(e: &TestEngine) {
    const SIZE: u64 = 200_000_000;
    const BOUND: u64 = 64 * 1024 * 1024;
    let c = e.sandbox();
    sh(&c, &format!("head -c {SIZE} /dev/urandom > /tmp/big"));
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("big");
    let _one_at_a_time = BIG.lock().unwrap_or_else(|p| p.into_inner());

    let pulled = peak_growth(|| c.pull("/tmp/big", &host).unwrap());
    assert_eq!(fs::metadata(&host).unwrap().len(), SIZE);
    let pushed = peak_growth(|| c.push(&host, "/tmp/big-again").unwrap());
    eprintln!(
        "{}: 200 MB pull grew peak RSS by {:.1} MiB, push by {:.1} MiB",
        e.name,
        pulled as f64 / 1048576.0,
        pushed as f64 / 1048576.0
    );
    assert!(pulled < BOUND, "pull grew RSS by {pulled} bytes");
    assert!(pushed < BOUND, "push grew RSS by {pushed} bytes");
    sh(&c, "cmp /tmp/big /tmp/big-again");
}

/// sysfs files say they hold 4096 bytes and hold fewer: pushed, each is cut off midway (the
/// host file "shrank"), after its header and part of its content went out.
const SYSFS_DIR: &str = "/sys/kernel/mm/transparent_hugepage";

fn a_push_cut_midway_leaves_no_partial_file(e: &TestEngine) {
    let c = e.shared();
    let base = format!("/tmp/{}", unique("cut"));
    let leftovers = || sh(&c, &format!("find {base} -name '.pocketdock-partial*'"));
    // A file that is already there stays as it was, not replaced by the cut one.
    sh(&c, &format!("mkdir -p {base} && echo old > {base}/enabled"));
    let err = c
        .push(format!("{SYSFS_DIR}/enabled"), &format!("{base}/enabled"))
        .unwrap_err();
    assert!(matches!(err, Error::HostFile { .. }), "{err:?}");
    assert_eq!(sh(&c, &format!("cat {base}/enabled")), "old\n");
    assert_eq!(leftovers(), "");
    // A tree: none of its files appears under its name, whole or cut.
    let err = c.push(SYSFS_DIR, &format!("{base}/tree")).unwrap_err();
    assert!(matches!(err, Error::HostFile { .. }), "{err:?}");
    assert_eq!(
        sh(&c, &format!("find {base}/tree -type f 2>/dev/null || true")),
        ""
    );
    assert_eq!(leftovers(), "");
    // A whole tree merged into one that exists replaces its files, and leaves nothing else.
    let tmp = tempfile::tempdir().unwrap();
    let host = tmp.path().join("t");
    fs::create_dir_all(host.join("sub")).unwrap();
    fs::write(host.join("sub/enabled"), "new\n").unwrap();
    fs::write(host.join("top"), "top\n").unwrap();
    sh(
        &c,
        &format!("mkdir -p {base}/t/sub && echo old > {base}/t/sub/enabled"),
    );
    c.push(&host, &base).unwrap();
    assert_eq!(
        sh(
            &c,
            &format!("cd {base}/t && cat sub/enabled top && find . | sort")
        ),
        "new\ntop\n.\n./sub\n./sub/enabled\n./top\n"
    );
    c.run(format!("rm -rf {base}")).unwrap();
}

fn a_write_lands_whole_and_leaves_no_temporary_file(e: &TestEngine) {
    let c = e.shared();
    let dir = format!("/tmp/{}", unique("whole"));
    let path = format!("{dir}/sub/file.bin");
    let first: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    c.write_file(&path, &first).unwrap();
    assert_eq!(c.read_file(&path).unwrap(), first);
    // An overwrite replaces the file by rename: a reader never sees it half written.
    c.write_file(&path, b"second").unwrap();
    assert_eq!(c.read_file(&path).unwrap(), b"second");
    let listing = c.run(format!("ls -A {dir}/sub")).unwrap();
    assert_eq!(listing.stdout, "file.bin\n", "no temporary file is left");
    let owner = c.run(format!("stat -c %U:%a {path}")).unwrap();
    assert_eq!(owner.stdout, "sandbox:644\n");
    // Refused before anything is written: a directory in the way.
    assert!(matches!(
        c.write_file(&format!("{dir}/sub"), b"x"),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(
        c.run(format!("ls -A {dir}/sub")).unwrap().stdout,
        "file.bin\n"
    );
    c.run(format!("rm -rf {dir}")).unwrap();
}
