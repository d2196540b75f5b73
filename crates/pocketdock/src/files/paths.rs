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

/// Quotes a string for `sh`: single quotes, each `'` as `'\''`.
pub(super) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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
    fn shell_quoting_survives_quotes_and_newlines() {
        assert_eq!(shell_quote("it's\nx"), "'it'\\''s\nx'");
    }
}
