//! Module-level functions: persistence by name, profiles.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use pocketdock::aio;

use crate::container::NativeContainer;
use crate::convert;
use crate::errors::to_pyerr;
use crate::runtime::{dispatch, none};

#[pyfunction]
#[pyo3(signature = (aio, name, socket_path=None))]
pub(crate) fn resume_container(
    py: Python<'_>,
    aio: bool,
    name: String,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::resume_container(&name, socket_path.as_deref()).await };
    dispatch(py, aio, fut, NativeContainer::wrap)
}

#[pyfunction]
#[pyo3(signature = (aio, project=None, socket_path=None))]
pub(crate) fn list_containers(
    py: Python<'_>,
    aio: bool,
    project: Option<String>,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::list_containers(project.as_deref(), socket_path.as_deref()).await };
    dispatch(py, aio, fut, |py, items| {
        let items = items
            .iter()
            .map(|item| convert::list_item(py, item))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, items)?.into_any().unbind())
    })
}

#[pyfunction]
#[pyo3(signature = (aio, name, socket_path=None))]
pub(crate) fn stop_container(
    py: Python<'_>,
    aio: bool,
    name: String,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::stop_container(&name, socket_path.as_deref()).await };
    dispatch(py, aio, fut, none)
}

#[pyfunction]
#[pyo3(signature = (aio, name, socket_path=None))]
pub(crate) fn destroy_container(
    py: Python<'_>,
    aio: bool,
    name: String,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::destroy_container(&name, socket_path.as_deref()).await };
    dispatch(py, aio, fut, none)
}

#[pyfunction]
#[pyo3(signature = (aio, project=None, socket_path=None))]
pub(crate) fn prune(
    py: Python<'_>,
    aio: bool,
    project: Option<String>,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::prune(project.as_deref(), socket_path.as_deref()).await };
    dispatch(py, aio, fut, |py, n| {
        Ok(n.into_pyobject(py)?.into_any().unbind())
    })
}

type ProfileTuple = (&'static str, &'static str, bool, &'static str, &'static str);

fn profile_tuple(p: &pocketdock::ProfileInfo) -> ProfileTuple {
    (
        p.name,
        p.image_tag,
        p.network_default,
        p.description,
        p.size_estimate,
    )
}

/// `(name, image_tag, network_default, description, size_estimate)` of every built-in profile.
#[pyfunction]
pub(crate) fn list_profiles() -> Vec<ProfileTuple> {
    pocketdock::list_profiles()
        .iter()
        .map(profile_tuple)
        .collect()
}

/// The profile of that name, as in [`list_profiles`]; an unknown one is a ValueError.
#[pyfunction]
pub(crate) fn resolve_profile(py: Python<'_>, name: &str) -> PyResult<ProfileTuple> {
    pocketdock::resolve_profile(name)
        .map(profile_tuple)
        .map_err(|e| to_pyerr(py, e))
}

/// Makes a directory a project (see `pocketdock.projects.init_project`); returns its root.
#[pyfunction]
#[pyo3(signature = (path=None, project_name=None))]
pub(crate) fn init_project(
    py: Python<'_>,
    path: Option<PathBuf>,
    project_name: Option<String>,
) -> PyResult<PathBuf> {
    pocketdock::init_project(path.as_deref(), project_name.as_deref()).map_err(|e| to_pyerr(py, e))
}

/// The project root at or above `start` (default: the current directory), or `None`.
#[pyfunction]
#[pyo3(signature = (start=None))]
pub(crate) fn find_project_root(start: Option<PathBuf>) -> Option<PathBuf> {
    pocketdock::find_project_root(start.as_deref())
}

/// `(orphaned_containers, stale_instance_dirs, healthy)` of the project.
#[pyfunction]
#[pyo3(signature = (aio, project_root=None, socket_path=None))]
pub(crate) fn doctor(
    py: Python<'_>,
    aio: bool,
    project_root: Option<PathBuf>,
    socket_path: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let fut = async move { aio::doctor(project_root.as_deref(), socket_path.as_deref()).await };
    dispatch(py, aio, fut, |py, report| {
        let class = py.import("pocketdock.types")?.getattr("DoctorReport")?;
        let args = (
            PyTuple::new(py, report.orphaned_containers)?,
            PyTuple::new(py, report.stale_instance_dirs)?,
            report.healthy,
        );
        Ok(class.call1(args)?.unbind())
    })
}

/// Bytes of a memory limit such as `"256m"`; a malformed one is a ValueError.
#[pyfunction]
pub(crate) fn parse_mem_limit(py: Python<'_>, limit: &str) -> PyResult<i64> {
    pocketdock::parse_mem_limit(limit).map_err(|e| to_pyerr(py, e))
}
