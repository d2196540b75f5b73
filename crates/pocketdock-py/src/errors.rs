//! `pocketdock::Error` → the exception classes of `pocketdock.errors` (the reference's
//! hierarchy), or the built-in exception the reference raises for the same fault.

use std::io::ErrorKind;

use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyNotADirectoryError, PyOSError,
    PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;

use pocketdock::Error;

/// The Python exception for `e`.
pub(crate) fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    match build(py, e) {
        Ok(err) => err,
        // `pocketdock.errors` cannot be imported: say what happened anyway.
        Err(import_error) => {
            let err = PyRuntimeError::new_err(message);
            err.set_cause(py, Some(import_error));
            err
        }
    }
}

fn build(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    let errors = py.import("pocketdock.errors")?;
    let class = |name: &str| errors.getattr(name);
    let instance = match e {
        Error::SocketConnection {
            socket_path,
            detail,
        } => class("SocketConnectionError")?
            .call1((socket_path.to_string_lossy().into_owned(), detail))?,
        Error::SocketCommunication { detail } => {
            class("SocketCommunicationError")?.call1((detail,))?
        }
        Error::Agent { detail } => {
            class("SocketCommunicationError")?.call1((format!("sandbox agent: {detail}"),))?
        }
        Error::PodmanNotRunning { hint } => class("PodmanNotRunning")?.call1((hint,))?,
        Error::ContainerNotFound {
            container_id,
            detail,
        } => class("ContainerNotFound")?.call1((container_id, detail))?,
        Error::ContainerNotRunning {
            container_id,
            detail,
        } => class("ContainerNotRunning")?.call1((container_id, detail))?,
        Error::ContainerGone {
            container_id,
            detail,
        } => class("ContainerGone")?.call1((container_id, detail))?,
        Error::Container {
            container_id,
            detail,
        } => class("ContainerError")?.call1((container_id, detail))?,
        Error::ImageNotFound { image } => class("ImageNotFound")?.call1((image,))?,
        Error::SessionClosed => class("SessionClosed")?.call1(("the session is closed",))?,
        // The reference raises ValueError for what it rejects before asking the engine
        // (a malformed mem_limit, an unknown profile).
        Error::InvalidArgument { detail } => return Ok(PyValueError::new_err(detail)),
        Error::FileNotFound { container_id, path } => {
            return Ok(PyFileNotFoundError::new_err((
                libc_enoent(),
                format!("No such file or directory in container {container_id}"),
                path,
            )))
        }
        // As Python's own open() on a read-only file system: OSError with EROFS.
        Error::ReadOnlyFileSystem { container_id, path } => {
            return Ok(PyOSError::new_err((
                30, // EROFS
                format!("Read-only file system in container {container_id}"),
                path,
            )));
        }
        Error::HostFile { path, kind, detail } => {
            let args = (errno_of(kind), detail, path.to_string_lossy().into_owned());
            return Ok(match kind {
                ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
                ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
                ErrorKind::AlreadyExists => PyFileExistsError::new_err(args),
                ErrorKind::NotADirectory => PyNotADirectoryError::new_err(args),
                ErrorKind::IsADirectory => PyIsADirectoryError::new_err(args),
                _ => PyOSError::new_err(args),
            });
        }
        Error::ProjectNotInitialized { path } => {
            class("ProjectNotInitialized")?.call1((path.to_string_lossy().into_owned(),))?
        }
        other => class("PocketDockError")?.call1((other.to_string(),))?,
    };
    Ok(PyErr::from_value(instance))
}

const fn libc_enoent() -> i32 {
    2
}

/// The errno Python's OSError subclasses carry, for the kinds we map.
fn errno_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::NotFound => 2,
        ErrorKind::PermissionDenied => 13,
        ErrorKind::AlreadyExists => 17,
        ErrorKind::NotADirectory => 20,
        ErrorKind::IsADirectory => 21,
        _ => 5, // EIO
    }
}
