//! Engine failures mapped, per operation, to the errors a user can act on.

use std::error::Error as _;
use std::path::Path;

use bollard::errors::Error as BollardError;

use crate::error::Error;

/// What the failed request was about: decides what a 404 or 409 means.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ctx<'a> {
    Engine,
    Container(&'a str),
    Create { name: &'a str, image: &'a str },
}

pub(super) fn map(e: BollardError, socket: &Path, ctx: Ctx<'_>) -> Error {
    if is_connection_failure(&e) {
        return Error::SocketConnection {
            socket_path: socket.to_path_buf(),
            detail: describe(&e),
        };
    }
    let BollardError::DockerResponseServerError {
        status_code,
        message,
    } = &e
    else {
        return Error::communication(describe(&e));
    };
    let message = message.trim().to_string();
    let lower = message.to_ascii_lowercase();
    // Podman answers several of these with 500 where Docker uses 404/409: look at the message too.
    match (ctx, *status_code) {
        (Ctx::Create { image, .. }, 404) => Error::ImageNotFound {
            image: image.to_string(),
        },
        (Ctx::Create { image, .. }, _) if lower.contains("image not known") => {
            Error::ImageNotFound {
                image: image.to_string(),
            }
        }
        (Ctx::Create { name, .. }, _)
            if *status_code == 409 || lower.contains("already in use") =>
        {
            Error::Container {
                container_id: name.to_string(),
                detail: format!("the name is already in use ({message})"),
            }
        }
        (Ctx::Create { name, .. }, 400) => Error::InvalidArgument {
            detail: format!("the engine rejected the configuration of {name}: {message}"),
        },
        (Ctx::Container(id), _) if *status_code == 404 || lower.contains("no such container") => {
            Error::ContainerNotFound {
                container_id: id.to_string(),
                detail: message,
            }
        }
        (Ctx::Container(id), 404) => Error::ContainerNotFound {
            container_id: id.to_string(),
            detail: message,
        },
        (Ctx::Container(id), 409 | 500) if is_not_running(&lower) => Error::ContainerNotRunning {
            container_id: id.to_string(),
            detail: message,
        },
        (Ctx::Container(id), _) => Error::Container {
            container_id: id.to_string(),
            detail: format!("{message} (HTTP {status_code})"),
        },
        (_, status) => Error::communication(format!("{message} (HTTP {status})")),
    }
}

/// Docker says "is not running", Podman "container state improper" or "not running".
fn is_not_running(lower_message: &str) -> bool {
    ["not running", "state improper", "is paused"]
        .iter()
        .any(|m| lower_message.contains(m))
}

fn is_connection_failure(e: &BollardError) -> bool {
    match e {
        BollardError::SocketNotFoundError(_) => true,
        BollardError::HyperLegacyError { err } => err.is_connect(),
        BollardError::IOError { err } => matches!(
            err.kind(),
            std::io::ErrorKind::NotFound
                | std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::PermissionDenied
        ),
        _ => false,
    }
}

/// The error with its causes, which is where hyper keeps the useful part ("Connection refused").
pub(super) fn describe(e: &BollardError) -> String {
    if let BollardError::DockerResponseServerError { message, .. } = e {
        return message.trim().to_string();
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
