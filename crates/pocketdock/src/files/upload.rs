//! Getting files into a container: the archive, built while it is sent, in bounded memory.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tar::{Builder, EntryType, Header};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::owner::Owner;
use super::paths;
use super::place::Move;
use super::plan::Plan;
use super::Sandbox;
use crate::error::{Error, Result};

/// Size of the pieces the archive is sent in, and how many may wait for the socket: together
/// they bound what an upload holds in memory, whatever the size of the files.
const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Mode of the parent directories we create.
const PARENT_MODE: u32 = 0o755;

/// Uploads `data` as one file, mode 0644. The bytes are sent in pieces straight from `data`.
pub(super) async fn write_bytes(
    sb: &Sandbox,
    plan: &Plan,
    owner: Owner,
    data: &[u8],
) -> Result<()> {
    let head = file_head(plan, owner, data.len() as u64)?;
    let padding = (512 - data.len() % 512) % 512;
    let tail = Bytes::from(vec![0u8; padding + 1024]);
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let feed = async move {
        let pieces = std::iter::once(head)
            .chain(data.chunks(CHUNK).map(Bytes::copy_from_slice))
            .chain(std::iter::once(tail));
        for piece in pieces {
            if tx.send(Ok(piece)).await.is_err() {
                break; // the upload failed, and reports why
            }
        }
        drop(tx); // the end of the body
        std::future::pending().await
    };
    let upload = sb
        .engine
        .upload_archive(&sb.id, &plan.dir, receiver_stream(rx));
    let upload = super::watch::until_trouble(&sb.engine, &sb.id, upload);
    // The upload's end is the end, also when a silent engine still holds the body (and so
    // the channel) and the feed would wait for room for good.
    tokio::select! {
        uploaded = upload => uploaded,
        never = feed => never,
    }
}

/// The archive up to the file's content: the missing parents, then the file's header (whose
/// long-name extension, if any, the builder writes).
fn file_head(plan: &Plan, owner: Owner, size: u64) -> Result<Bytes> {
    let mut builder = Builder::new(Vec::new());
    let built = (|| {
        for parent in plan.parents() {
            let mut h = header(EntryType::Directory, PARENT_MODE, owner, 0);
            builder.append_data(&mut h, parent, io::empty())?;
        }
        let mut h = header(EntryType::Regular, 0o644, owner, size);
        builder.append_data(&mut h, plan.entry(), io::empty())
    })();
    built
        .map_err(|e| Error::invalid(format!("cannot put {:?} in an archive: {e}", plan.entry())))?;
    // Taken before the builder is dropped, which appends the end-of-archive blocks.
    Ok(Bytes::from(std::mem::take(builder.get_mut())))
}

/// Uploads the host file or tree `src` (symlinks inside kept as symlinks, modes kept, the
/// top-level path followed). The archive is built on the blocking pool while it is sent. Every
/// regular file goes under a temporary name beside its destination: the moves that put them in
/// place are returned with the outcome, also after a failure (see `place`).
pub(super) async fn push_tree(
    sb: &Sandbox,
    plan: Plan,
    owner: Owner,
    src: PathBuf,
) -> (Vec<Move>, Result<()>) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let entry = plan.entry();
    let parents: Vec<PathBuf> = plan.parents().collect();
    let abort = CancellationToken::new();
    let writer = ChannelWriter::new(tx, abort.clone());
    let build =
        tokio::task::spawn_blocking(move || build_tree(writer, &src, &parents, &entry, owner));
    let upload = sb
        .engine
        .upload_archive(&sb.id, &plan.dir, receiver_stream(rx));
    let uploaded = super::watch::until_trouble(&sb.engine, &sb.id, upload).await;
    // A failed upload's body may still be held by a silent engine's connection: the builder
    // must not wait for room in the channel for good.
    if uploaded.is_err() {
        abort.cancel();
    }
    let (renames, built) = match build.await {
        Ok(done) => done,
        Err(e) => {
            let e = Error::communication(format!("building the archive failed: {e}"));
            return (Vec::new(), Err(e));
        }
    };
    let in_container = |p: &Path| paths::join(&plan.dir, &p.to_string_lossy());
    let moves = renames
        .iter()
        .map(|(partial, target)| Move {
            partial: in_container(partial),
            target: in_container(target),
        })
        .collect();
    // A host-side failure cuts the upload short and is the cause; otherwise the engine's error
    // is, and the builder only noticed that nobody read any more.
    let outcome = match (built, uploaded) {
        (Err(e @ Error::HostFile { .. }), _) | (Ok(()), Err(e)) | (Err(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    };
    (moves, outcome)
}

fn receiver_stream(
    rx: mpsc::Receiver<io::Result<Bytes>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

fn header(kind: EntryType, mode: u32, owner: Owner, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.uid);
    h.set_gid(owner.gid);
    h.set_size(size);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    h
}

/// (temporary name, destination) of each regular file in the archive, relative to the
/// directory it is extracted in.
type Renames = Vec<(PathBuf, PathBuf)>;

fn build_tree(
    writer: ChannelWriter,
    src: &Path,
    parents: &[PathBuf],
    entry: &Path,
    owner: Owner,
) -> (Renames, Result<()>) {
    let mut builder = Builder::new(writer);
    let mut current = src.to_path_buf();
    let mut renames = Vec::new();
    let mut appended = (|| -> io::Result<()> {
        for parent in parents {
            let mut h = header(EntryType::Directory, PARENT_MODE, owner, 0);
            builder.append_data(&mut h, parent, io::empty())?;
        }
        append_tree(&mut builder, src, entry, owner, &mut current, &mut renames)?;
        builder.finish()
    })();
    if appended.is_ok() {
        appended = builder.get_mut().send_buffered();
    }
    let Err(e) = appended else {
        return (renames, Ok(()));
    };
    if builder.get_ref().closed {
        let e = Error::communication("the engine stopped reading the upload");
        return (renames, Err(e));
    }
    let error = Error::host_file(&current, e);
    // An error item aborts the request: the engine must not take a cut archive for a whole one.
    let writer = builder.get_mut();
    writer.discard = true;
    let _ = writer.send(Err(io::Error::other(error.to_string())));
    (renames, Err(error))
}

/// Appends `src` as `entry`, depth first, parents before children; regular files under
/// temporary names, recorded in `renames`. `current` tracks the host path being read, for the
/// error message.
fn append_tree<W: Write>(
    builder: &mut Builder<W>,
    src: &Path,
    entry: &Path,
    owner: Owner,
    current: &mut PathBuf,
    renames: &mut Renames,
) -> io::Result<()> {
    // Hidden, unlikely to exist, and short whatever the file's own name.
    let token = rand::random::<u32>();
    let mut stack = vec![(src.to_path_buf(), entry.to_path_buf(), fs::metadata(src)?)];
    while let Some((host, name, meta)) = stack.pop() {
        *current = host.clone();
        let kind = meta.file_type();
        let mode = meta.mode() & 0o7777;
        let mut h = header(EntryType::Regular, mode, owner, 0);
        h.set_mtime(meta.mtime().max(0) as u64);
        if kind.is_dir() {
            h.set_entry_type(EntryType::Directory);
            builder.append_data(&mut h, &name, io::empty())?;
            let mut children = fs::read_dir(&host)?.collect::<io::Result<Vec<_>>>()?;
            children.sort_by_key(|c| std::cmp::Reverse(c.file_name()));
            for child in children {
                let path = child.path();
                let meta = fs::symlink_metadata(&path)?;
                stack.push((path, name.join(child.file_name()), meta));
            }
        } else if kind.is_symlink() {
            h.set_entry_type(EntryType::Symlink);
            builder.append_link(&mut h, &name, fs::read_link(&host)?)?;
        } else if kind.is_file() {
            h.set_size(meta.len());
            let file = fs::File::open(&host)?;
            let partial =
                name.with_file_name(format!(".pocketdock-partial-{token:08x}-{}", renames.len()));
            renames.push((partial.clone(), name));
            builder.append_data(
                &mut h,
                &partial,
                Exactly {
                    file,
                    left: meta.len(),
                },
            )?;
        } else {
            tracing::debug!(path = %host.display(), "skipping a special file");
        }
    }
    Ok(())
}

/// A file's content, exactly as long as its header says: a file that shrinks while it is sent
/// is an error, one that grows is cut (either would otherwise corrupt the archive).
struct Exactly {
    file: fs::File,
    left: u64,
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being copied",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The builder's output, handed to the upload in [`CHUNK`]s through a bounded channel: the
/// builder waits whenever the socket is slower than the disk.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    /// The upload has failed: stop waiting for room.
    abort: CancellationToken,
    runtime: tokio::runtime::Handle,
    buf: BytesMut,
    /// The upload stopped reading.
    closed: bool,
    /// After a failure: whatever the builder still writes (its trailer, on drop) goes nowhere.
    discard: bool,
}

impl ChannelWriter {
    /// To be made on the runtime: its sends wait there (from the blocking pool).
    fn new(tx: mpsc::Sender<io::Result<Bytes>>, abort: CancellationToken) -> Self {
        ChannelWriter {
            tx,
            abort,
            runtime: tokio::runtime::Handle::current(),
            buf: BytesMut::with_capacity(CHUNK),
            closed: false,
            discard: false,
        }
    }

    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.send(Ok(chunk)).map_err(|()| {
            self.closed = true;
            io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped")
        })
    }

    /// Waits for room in the channel, unless the upload is over.
    fn send(&self, item: io::Result<Bytes>) -> std::result::Result<(), ()> {
        self.runtime.block_on(async {
            tokio::select! {
                sent = self.tx.send(item) => sent.map_err(|_| ()),
                () = self.abort.cancelled() => Err(()),
            }
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.discard {
            return Ok(data.len());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buffered()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
