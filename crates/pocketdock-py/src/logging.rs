//! The library's `tracing` events (its warnings, and engine calls at debug level) to Python's
//! `logging`, under the logger `pocketdock`. Events come from any thread, the runtime's
//! workers included, which must never wait for the GIL (a Python thread holding it may be
//! waiting for them): they are queued, without blocking, for one thread of our own that takes
//! the GIL and logs. When the queue is full, events are dropped rather than waited for.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::OnceLock;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

const QUEUE: usize = 1024;

/// Set at interpreter exit (`atexit`): no more calls into Python from our thread.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// Registered with `atexit`: what is logged later is dropped.
#[pyfunction]
pub(crate) fn _stop_logging() {
    STOPPED.store(true, Ordering::SeqCst);
}

struct Record {
    level: Level,
    target: String,
    message: String,
}

/// Installs the forwarding once per process (a subscriber already installed by the embedding
/// program wins).
pub(crate) fn init() {
    static SENDER: OnceLock<SyncSender<Record>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = sync_channel::<Record>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("pocketdock-logging".into())
            .spawn(move || {
                for record in rx {
                    if STOPPED.load(Ordering::SeqCst) {
                        continue;
                    }
                    Python::attach(|py| {
                        let _ = emit(py, &record);
                    });
                }
            });
        // Without the thread (no threads left), the queue fills and events are dropped.
        drop(spawned);
        tx
    });
    let subscriber = tracing_subscriber::registry().with(ToPython(sender.clone()));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

fn emit(py: Python<'_>, record: &Record) -> PyResult<()> {
    let level = match record.level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG | Level::TRACE => 10,
    };
    // `pocketdock::engine::raw` → `pocketdock.engine.raw`: children of `pocketdock`.
    let name = record.target.replace("::", ".");
    let logger = py.import("logging")?.call_method1("getLogger", (name,))?;
    logger.call_method1("log", (level, record.message.as_str()))?;
    Ok(())
}

struct ToPython(SyncSender<Record>);

impl<S: Subscriber> Layer<S> for ToPython {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("pocketdock") && *metadata.level() <= Level::DEBUG
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        let _ = self.0.try_send(Record {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            message: message.0,
        });
    }
}

/// `message key=value …`, as the CLI's `-v` prints it.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{fields}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            self.0 = format!("{value}{fields}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}
