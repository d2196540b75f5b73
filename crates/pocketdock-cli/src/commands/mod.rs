//! One module per group of commands; each takes parsed arguments and returns an exit status.

pub mod container;
pub mod exec;
pub mod files;
pub mod images;
pub mod mcp;
pub mod misc;
pub mod project;
pub mod run;
pub mod shell;
