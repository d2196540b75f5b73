//! Paths inside the container, as plain strings: the container is Linux whatever the host is.

use crate::error::{Error, Result};

/// An absolute, normalised container path: relative paths start at the container's working
/// directory, like the commands `run` executes. `..` is resolved lexically.
pub(super) fn resolve(workdir: &str, path: &str) -> Result<String> {
    if path.is_empty() {
        return Err(Error::invalid("the container path is empty"));
    }
    if path.contains('\0') {
        return Err(Error::invalid(format!(
            "the container path {path:?} contains a NUL byte"
        )));
    }
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", if workdir.is_empty() { "/" } else { workdir })
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// `(parent, name)` of a normalised path other than `/`.
pub(super) fn split(path: &str) -> Option<(&str, &str)> {
    let (parent, name) = path.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

/// `dir/name` for a normalised directory.
pub(super) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Quotes a string for `sh`; a NUL byte cannot be passed to a shell at all.
pub(crate) fn shell_quote(s: &str) -> Result<String> {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .map_err(|_| Error::invalid("a NUL byte cannot be passed to the shell"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_start_at_the_workdir() {
        assert_eq!(
            resolve("/home/sandbox", "a.txt").unwrap(),
            "/home/sandbox/a.txt"
        );
        assert_eq!(resolve("", "a.txt").unwrap(), "/a.txt");
        assert_eq!(resolve("/w", "./x/../y/").unwrap(), "/w/y");
        assert_eq!(resolve("/w", "/etc//passwd").unwrap(), "/etc/passwd");
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        assert_eq!(resolve("/w", "../../../..").unwrap(), "/");
        assert_eq!(resolve("/", "/../etc").unwrap(), "/etc");
    }

    #[test]
    fn empty_and_nul_paths_are_rejected() {
        assert!(matches!(
            resolve("/", ""),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            resolve("/", "a\0b"),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn shell_quoting_survives_quotes_newlines_and_expansions() {
        for nasty in [
            "it's\nx",
            "$(touch /tmp/x) `id` $HOME",
            "a\"b'c\\d",
            "-n",
            "",
            " * ? [",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(nasty).unwrap()))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), nasty);
        }
        assert!(shell_quote("a\0b").is_err());
    }
}
