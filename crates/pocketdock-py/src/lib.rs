//! `pocketdock._native`: the Rust core as the Python package `pocketdock` sees it.
//!
//! This module is deliberately thin and private: it exposes the async core (`pocketdock::aio`)
//! through a handful of classes whose methods take an `aio` flag. With `aio=False` the call runs
//! to completion on the binding's Tokio runtime with the GIL released (and Ctrl-C abandons it,
//! which kills the command); with `aio=True` it returns an asyncio awaitable driven by the same
//! runtime. The public API — the exact names, signatures and result types of the reference
//! Python package — is the pure-Python layer in `python/pocketdock/`, which builds on this.

mod container;
mod convert;
mod errors;
mod exec;
mod logging;
mod persistence;
mod pool;
mod runtime;
mod session;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init();
    logging::init();
    m.add_function(wrap_pyfunction!(logging::_stop_logging, m)?)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (m.getattr("_stop_logging")?,))?;
    m.add_class::<container::NativeContainer>()?;
    m.add_class::<exec::NativeStream>()?;
    m.add_class::<exec::NativeProcess>()?;
    m.add_class::<session::NativeSession>()?;
    m.add_class::<pool::NativePool>()?;
    m.add_function(wrap_pyfunction!(pool::create_pool, m)?)?;
    m.add_function(wrap_pyfunction!(container::create_container, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::resume_container, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::list_containers, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::stop_container, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::destroy_container, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::prune, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::list_profiles, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::resolve_profile, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::parse_mem_limit, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::init_project, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::find_project_root, m)?)?;
    m.add_function(wrap_pyfunction!(persistence::doctor, m)?)?;
    m.add("CORE_VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_IMAGE", pocketdock::DEFAULT_IMAGE)?;
    m.add("DEFAULT_MAX_OUTPUT", pocketdock::DEFAULT_MAX_OUTPUT)?;
    m.add("DEFAULT_TIMEOUT", pocketdock::DEFAULT_TIMEOUT.as_secs())?;
    m.add(
        "DEFAULT_BUFFER_CAPACITY",
        pocketdock::DEFAULT_BUFFER_CAPACITY,
    )?;
    Ok(())
}
