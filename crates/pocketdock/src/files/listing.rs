//! `list_files`: one directory's entries, through a shell in the container. The archive API
//! would send the whole tree below the directory, contents included; a shell loop sends names
//! only, NUL-separated so that any name survives (`ls` output cannot be parsed safely).

use crate::container::Container;
use crate::error::{Error, Result};

use super::paths::shell_quote;

/// A listing bigger than this is refused rather than cut.
const MAX_LISTING: usize = 64 * 1024 * 1024;

/// Exit codes of the script, besides 0.
const MISSING: i64 = 3;
const NOT_A_DIRECTORY: i64 = 4;

/// Directories (not symlinks to them) get a trailing `/`, like `ls -p`; hidden entries are
/// listed, like `ls -A`. Works with busybox `sh` as well as dash and bash.
fn script(dir: &str) -> Result<String> {
    Ok(format!(
        r#"d={dir}
[ -e "$d" ] || [ -L "$d" ] || exit {MISSING}
[ -d "$d" ] || exit {NOT_A_DIRECTORY}
cd -- "$d" || exit 5
for f in .* *; do
  case "$f" in .|..) continue ;; esac
  if [ -d "$f" ] && [ ! -L "$f" ]; then printf '%s/\0' "$f"
  elif [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"
  fi
done"#,
        dir = shell_quote(dir)?
    ))
}

pub(super) async fn list(c: &Container, dir: &str) -> Result<Vec<String>> {
    let r = c
        .command(script(dir)?)
        .max_output(MAX_LISTING)
        .run()
        .await?;
    let not_found = || Error::FileNotFound {
        container_id: c.id().to_string(),
        path: dir.to_string(),
    };
    match r.exit_code {
        0 if r.truncated => Err(Error::Container {
            container_id: c.id().to_string(),
            detail: format!("the listing of {dir} exceeds {MAX_LISTING} bytes"),
        }),
        0 => Ok(parse(r.stdout_bytes())),
        MISSING => Err(not_found()),
        NOT_A_DIRECTORY => Err(Error::invalid(format!("{dir} is not a directory"))),
        _ if r.timed_out => Err(Error::Container {
            container_id: c.id().to_string(),
            detail: format!("listing {dir} timed out"),
        }),
        code => Err(Error::Container {
            container_id: c.id().to_string(),
            detail: format!("cannot list {dir} (exit {code}): {}", r.stderr.trim_end()),
        }),
    }
}

/// Sorted names; bytes that are not UTF-8 become U+FFFD.
fn parse(out: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = out
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_nul_only() {
        let out = b"b c/\0a\nb\0.hidden\0\xffx\0";
        assert_eq!(parse(out), [".hidden", "a\nb", "b c/", "\u{fffd}x"]);
        assert!(parse(b"").is_empty());
    }
}
