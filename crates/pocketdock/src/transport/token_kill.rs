//! Signalling a command and everything it started, inside the container.
//!
//! Every exec carries a random token in its environment, which its children inherit — even those
//! that leave its process group or are re-parented to init. Killing scans `/proc` in the container
//! for that token and signals each match. The engine's host-side PID is never used: it means
//! nothing inside the container's PID namespace (the reference's `kill()` signalled nothing).

use futures::StreamExt;

use crate::engine::{Engine, ExecRequest};
use crate::error::Result;

/// Name of the environment variable that marks an exec's processes.
pub(crate) const TOKEN_VAR: &str = "POCKETDOCK_EXEC";

/// `$1` signal number, `$2` token, `$3` a PID to spare (or empty). Prints how many processes were signalled. All matches are
/// signalled together; for SIGKILL they are first frozen with SIGSTOP, so that none can react
/// to another's death (a shell printing "Killed"), and the scan repeats until nothing carries
/// the token, so that a fork racing the scan cannot escape.
const KILL_SCRIPT: &str = r#"sig=$1; mark="POCKETDOCK_EXEC=$2"; spare=$3; rounds=1
[ "$sig" = 9 ] && rounds=50
total=0
while [ "$rounds" -gt 0 ]; do
  pids=""
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$spare" ] && continue
    if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "$mark"; then
      pids="$pids ${d#/proc/}"
    fi
  done
  [ -z "$pids" ] && break
  [ "$sig" = 9 ] && kill -STOP $pids 2>/dev/null
  kill -"$sig" $pids 2>/dev/null
  set -- $pids
  total=$((total + $#))
  rounds=$((rounds - 1))
done
echo "$total""#;

/// Sends `signal` to every process of the exec marked with `token`; returns how many got it.
pub(crate) async fn signal_tree(
    engine: &Engine,
    container_id: &str,
    user: Option<&str>,
    with_agent: bool,
    token: &str,
    signal: i32,
    spared: Option<u32>,
) -> Result<usize> {
    let spared = spared.map(|p| p.to_string()).unwrap_or_default();
    // A sandbox with the agent has a better tool: it also finds the descendants that cleared
    // their environment, and needs no shell in the image.
    let argv = if with_agent {
        vec![
            pocketdock_agent_protocol::AGENT_PATH.to_string(),
            "kill".into(),
            format!("{TOKEN_VAR}={token}"),
            signal.to_string(),
            spared,
        ]
    } else {
        vec![
            "sh".to_string(),
            "-c".to_string(),
            KILL_SCRIPT.to_string(),
            "pocketdock-kill".to_string(),
            signal.to_string(),
            token.to_string(),
            spared,
        ]
    };
    // As the command's user: /proc/PID/environ is readable by its owner
    // only, and not even by root inside the container (no CAP_SYS_PTRACE there).
    let out = exec_stdout(engine, container_id, argv, user).await?;
    Ok(out.trim().parse().unwrap_or(0))
}

/// Runs `argv` as an engine exec (as `user`) and returns its stdout.
pub(crate) async fn exec_stdout(
    engine: &Engine,
    container_id: &str,
    argv: Vec<String>,
    user: Option<&str>,
) -> Result<String> {
    let exec_id = engine
        .create_exec(
            container_id,
            ExecRequest {
                cmd: argv,
                user: user.map(str::to_string),
                ..Default::default()
            },
        )
        .await?;
    let mut output = engine.start_exec(&exec_id).await?;
    let mut stdout = Vec::new();
    while let Some(frame) = output.next().await {
        if let (crate::types::StreamKind::Stdout, message) = frame? {
            stdout.extend_from_slice(&message);
        }
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}
