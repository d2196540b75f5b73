//! pocketdock: offline container sandboxes over the local Podman or Docker socket.
//!
//! ```no_run
//! use pocketdock::{create_new_container, ContainerOptions};
//! let c = create_new_container(ContainerOptions::default())?;
//! let r = c.run("echo hello")?;
//! assert_eq!(r.stdout, "hello\n");
//! c.shutdown(false)?;
//! # Ok::<(), pocketdock::Error>(())
//! ```
//!
//! The crate root is the blocking API; [`aio`] has the same names as `async fn`s.

mod blocking;
mod buffer;
mod callbacks;
mod cleanup;
mod container;
pub mod engine;
mod error;
mod exec;
mod files;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod images;
mod info;
mod options;
mod persistence;
mod pool;
mod profile;
mod project;
mod runtime;
mod session;
mod terminal;
mod transport;
mod types;
mod utf8;

pub use blocking::{
    build_image_from_dir, build_profile, create_new_container, destroy_container, export_images,
    find_container, import_images, list_containers, prune, prune_orphans, resume_container,
    stop_container, Command, Container, ExecStream, Pool, Process, Session, Stdin,
};
pub use blocking::{doctor, project_status};
pub use cleanup::{pending_cleanups, wait_for_cleanup};
pub use container::agent::embedded_agent;
pub use container::hardening::{Hardening, KEPT_CAPABILITIES};
pub use container::labels;
pub use engine::EngineKind;
pub use error::{Error, Result};
pub use info::{ContainerInfo, ProcessEntry};
pub use options::{
    parse_mem_limit, ContainerOptions, DEFAULT_BUFFER_CAPACITY, DEFAULT_IMAGE, DEFAULT_MAX_OUTPUT,
    DEFAULT_TIMEOUT,
};
pub use persistence::ContainerListItem;
pub use profile::{list_profiles, resolve_profile, ProfileInfo};
pub use project::{
    find_project_root, init_project, list_log_files, load_config, read_history,
    read_instance_metadata, DoctorReport, HistoryEntry, InstanceMetadata, LogFile, LogKind,
    Project, ProjectConfig, ProjectStatus,
};
pub use runtime::shared as shared_runtime;
pub use transport::Transport;
pub use types::{BufferSnapshot, ExecResult, Lang, StreamChunk, StreamKind};

/// The async API: the same names as the crate root, as `async fn`s; streams implement
/// `futures::Stream`.
pub mod aio {
    pub use crate::container::{create_new_container, Command, Container};
    pub use crate::exec::process::Process;
    pub use crate::exec::stream::{ExecStream, Stdin};
    pub use crate::images::{build_image_from_dir, build_profile, export_images, import_images};
    pub use crate::persistence::{
        destroy_container, find_container, list_containers, prune, prune_orphans, resume_container,
        stop_container,
    };
    pub use crate::pool::Pool;
    pub use crate::project::{doctor, project_status};
    pub use crate::session::Session;
    pub use crate::terminal::{Terminal, TerminalControl, TerminalInput, TerminalOutput};
}
