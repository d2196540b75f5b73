//! Core values → the frozen dataclasses of `pocketdock.types` (and `pocketdock._buffer`).

use chrono::{DateTime, Datelike, Timelike, Utc};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use pocketdock::{BufferSnapshot, ContainerInfo, ContainerListItem, ExecResult, StreamChunk};

static EXEC_RESULT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STREAM_CHUNK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BUFFER_SNAPSHOT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONTAINER_INFO: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static LIST_ITEM: PyOnceLock<Py<PyType>> = PyOnceLock::new();

pub(crate) fn exec_result(py: Python<'_>, r: &ExecResult) -> PyResult<Py<PyAny>> {
    let class = EXEC_RESULT.import(py, "pocketdock.types", "ExecResult")?;
    let args = (
        r.exit_code,
        r.stdout.as_str(),
        r.stderr.as_str(),
        r.duration_ms,
        r.timed_out,
        r.truncated,
        r.oom_killed,
    );
    Ok(class.call1(args)?.unbind())
}

pub(crate) fn stream_chunk(py: Python<'_>, c: StreamChunk) -> PyResult<Py<PyAny>> {
    let class = STREAM_CHUNK.import(py, "pocketdock.types", "StreamChunk")?;
    Ok(class.call1((c.stream.as_str(), c.data))?.unbind())
}

pub(crate) fn buffer_snapshot(py: Python<'_>, s: BufferSnapshot) -> PyResult<Py<PyAny>> {
    let class = BUFFER_SNAPSHOT.import(py, "pocketdock._buffer", "BufferSnapshot")?;
    Ok(class.call1((s.stdout, s.stderr))?.unbind())
}

pub(crate) fn list_item(py: Python<'_>, c: &ContainerListItem) -> PyResult<Py<PyAny>> {
    let class = LIST_ITEM.import(py, "pocketdock.types", "ContainerListItem")?;
    let args = (
        c.id.as_str(),
        c.name.as_str(),
        c.status.as_str(),
        c.image.as_str(),
        c.created_at.as_str(),
        c.persist,
        c.project.as_str(),
    );
    Ok(class.call1(args)?.unbind())
}

pub(crate) fn container_info(py: Python<'_>, info: ContainerInfo) -> PyResult<Py<PyAny>> {
    let class = CONTAINER_INFO.import(py, "pocketdock.types", "ContainerInfo")?;
    let kw = PyDict::new(py);
    kw.set_item("id", &info.id)?;
    kw.set_item("name", &info.name)?;
    kw.set_item("status", &info.status)?;
    kw.set_item("image", &info.image)?;
    // The reference's type says a creation time is always there; the engine always gives one.
    let epoch = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
    kw.set_item(
        "created_at",
        datetime(py, info.created_at.unwrap_or(epoch))?,
    )?;
    kw.set_item(
        "started_at",
        info.started_at.map(|t| datetime(py, t)).transpose()?,
    )?;
    kw.set_item("uptime", info.uptime)?;
    kw.set_item("memory_usage", &info.memory_usage)?;
    kw.set_item("memory_limit", &info.memory_limit)?;
    kw.set_item("memory_percent", info.memory_percent)?;
    kw.set_item("cpu_percent", info.cpu_percent)?;
    kw.set_item("pids", info.pids)?;
    kw.set_item("network", info.network)?;
    kw.set_item("ip_address", &info.ip_address)?;
    kw.set_item("transport", info.transport.to_string())?;
    let h = &info.hardening;
    let hardening = PyDict::new(py);
    hardening.set_item("capabilities_dropped", h.capabilities_dropped)?;
    hardening.set_item("capabilities", h.capabilities.clone())?;
    hardening.set_item("no_new_privileges", h.no_new_privileges)?;
    hardening.set_item("pids_limit", h.pids_limit)?;
    hardening.set_item("read_only", h.read_only)?;
    kw.set_item("hardening", hardening)?;
    kw.set_item("ports", PyDict::from_sequence(&ports(py, &info)?)?)?;
    let processes = info
        .processes
        .iter()
        .map(|p| {
            let d = PyDict::new(py);
            d.set_item("PID", p.pid.to_string())?;
            d.set_item("USER", &p.user)?;
            d.set_item("COMMAND", &p.command)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    kw.set_item("processes", PyTuple::new(py, processes)?)?;
    Ok(class.call((), Some(&kw))?.unbind())
}

fn ports<'py>(py: Python<'py>, info: &ContainerInfo) -> PyResult<Bound<'py, PyAny>> {
    let pairs: Vec<(u16, u16)> = info.ports.iter().map(|(h, c)| (*h, *c)).collect();
    Ok(pairs.into_pyobject(py)?.into_any())
}

/// An aware UTC `datetime.datetime`, to the microsecond.
fn datetime(py: Python<'_>, t: DateTime<Utc>) -> PyResult<Bound<'_, PyAny>> {
    let dt = py.import("datetime")?;
    let utc = dt.getattr("timezone")?.getattr("utc")?;
    let kw = PyDict::new(py);
    kw.set_item("tzinfo", utc)?;
    dt.getattr("datetime")?.call(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond().min(999_999_999) / 1000,
        ),
        Some(&kw),
    )
}
