//! `pocketdock mcp`: the MCP server, on stdio or on loopback HTTP.

use std::path::Path;

use anyhow::Context;
use pocketdock_mcp::{HttpOptions, McpConfig};

use crate::cli::McpArgs;
use crate::commands::container::seconds;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn mcp(args: McpArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let labels = args
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--label {l}: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(args.max_output > 0, "--max-output must be at least 1 byte");
    anyhow::ensure!(args.max_sandboxes > 0, "--max-sandboxes must be at least 1");
    anyhow::ensure!(
        args.pool <= args.max_sandboxes,
        "--pool {} is more than --max-sandboxes {}: a pool larger than what may be handed out only holds containers",
        args.pool,
        args.max_sandboxes
    );
    let config = McpConfig {
        socket: socket.map(Path::to_path_buf),
        image: args.image,
        labels,
        max_output: args.max_output,
        timeout: seconds(args.timeout)?,
        max_sandboxes: args.max_sandboxes,
        pool: args.pool,
        allow_host_dir: args.allow_host_dir,
    };
    let runtime = pocketdock::shared_runtime();
    match args.http {
        None => runtime.block_on(pocketdock_mcp::serve_stdio(config))?,
        Some(addr) => {
            // A token the user chose is theirs to know; a generated one must be told.
            let generated = args.token.is_none();
            let token = args.token.unwrap_or_else(random_token);
            let options = HttpOptions { addr, token };
            let announce = |at: std::net::SocketAddr| {
                let auth = if generated {
                    format!(" (Authorization: Bearer {})", options.token)
                } else {
                    String::new()
                };
                printer.note(&format!("pocketdock MCP server on http://{at}/mcp{auth}"));
            };
            runtime.block_on(pocketdock_mcp::serve_http(
                config,
                options.clone(),
                announce,
            ))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
