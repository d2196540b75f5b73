//! What a connection sends, and the one task that writes it.

use futures::SinkExt;
use pocketdock_agent_protocol::{
    encode_output, encode_output_header, AgentMessage, ClientMessage, CommandId, FrameCodec,
    Stream, MAX_JOINED_OUTPUT,
};

use crate::splice::{PipeOutput, Spliced};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::codec::FramedWrite;

/// The two queues a connection writes from. Control answers go first; a command's output and
/// its exit share one queue so that the exit never overtakes the output, and each command's
/// output in it is bounded by its flow-control window.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub control: mpsc::UnboundedSender<AgentMessage>,
    pub data: mpsc::UnboundedSender<Outgoing>,
}

/// What a command's output queue holds.
#[derive(Debug)]
pub enum Outgoing {
    Message(AgentMessage),
    /// Output waiting in a command's pipe, for the writer to move to the socket.
    Pipe(PipeOutput),
}

impl From<AgentMessage> for Outgoing {
    fn from(m: AgentMessage) -> Self {
        Outgoing::Message(m)
    }
}

pub type Writer = FramedWrite<OwnedWriteHalf, FrameCodec<ClientMessage, AgentMessage>>;

// A chunk read from a stream always fits a frame of joined output on its own.
const _: () = assert!(pocketdock_agent_protocol::MAX_CHUNK <= MAX_JOINED_OUTPUT);

/// Written out once this much is buffered, so that a long batch goes out as it is built.
const FLUSH_AT: usize = 1 << 20;

/// The chunks of one stream of one command queued one after the other: sent as one frame.
/// Behind a busy socket, a fast command's output queues up in many small reads; joined, the
/// client wakes once for them instead of once each. Nothing waits to be joined: only what is
/// already queued is.
#[derive(Default)]
struct Joined {
    key: Option<(CommandId, Stream)>,
    pieces: Vec<Vec<u8>>,
    len: usize,
}

impl Joined {
    /// Takes `data` if it continues the chunks held; else hands it back.
    fn take(&mut self, id: CommandId, stream: Stream, data: Vec<u8>) -> Option<Vec<u8>> {
        let continues = self.key.is_none_or(|k| k == (id, stream));
        if !continues || self.len + data.len() > MAX_JOINED_OUTPUT {
            return Some(data);
        }
        self.key = Some((id, stream));
        self.len += data.len();
        self.pieces.push(data);
        None
    }

    /// Encodes the chunks held into the writer's buffer, as one frame.
    fn put(&mut self, writer: &mut Writer) {
        if let Some((id, stream)) = self.key.take() {
            // Within the limit by construction.
            let _ = encode_output(id, stream, &self.pieces, writer.write_buffer_mut());
        }
        self.pieces.clear();
        self.len = 0;
    }
}

/// Writes control answers before output, and everything already queued in one go.
pub async fn write_loop(
    mut writer: Writer,
    mut control: mpsc::UnboundedReceiver<AgentMessage>,
    mut data: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut joined = Joined::default();
    loop {
        let mut next = tokio::select! {
            biased;
            Some(m) = control.recv() => Some(Outgoing::Message(m)),
            Some(m) = data.recv() => Some(m),
            else => break,
        };
        while let Some(item) = next {
            if write(&mut writer, &mut joined, item).await.is_err() {
                return;
            }
            next = control
                .try_recv()
                .map(Outgoing::Message)
                .or_else(|_| data.try_recv())
                .ok();
        }
        joined.put(&mut writer);
        if writer.flush().await.is_err() {
            break;
        }
    }
}

/// Puts one item in the writer's buffer, joining output to the chunks before it where it can;
/// writes out what is buffered when there is much of it, or before splicing.
async fn write(writer: &mut Writer, joined: &mut Joined, item: Outgoing) -> std::io::Result<()> {
    let msg = match item {
        Outgoing::Pipe(output) => {
            joined.put(writer);
            return send_from_pipe(writer, output).await;
        }
        Outgoing::Message(AgentMessage::Output { id, stream, data }) => {
            let Some(data) = joined.take(id, stream, data) else {
                return flush_if_full(writer).await;
            };
            joined.put(writer);
            joined.take(id, stream, data);
            return flush_if_full(writer).await;
        }
        Outgoing::Message(msg) => msg,
    };
    joined.put(writer);
    writer.feed(msg).await.map_err(std::io::Error::other)?;
    flush_if_full(writer).await
}

async fn flush_if_full(writer: &mut Writer) -> std::io::Result<()> {
    if writer.write_buffer().len() >= FLUSH_AT {
        writer.flush().await.map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// Sends what `output`'s pipe holds now as one frame, the data spliced from the pipe.
async fn send_from_pipe(writer: &mut Writer, output: PipeOutput) -> std::io::Result<()> {
    let PipeOutput {
        id,
        stream,
        pipe,
        credit,
        done,
    } = output;
    let len = crate::splice::available(&*pipe)
        .map(|waiting| crate::splice::frame_len(waiting, &credit))
        .unwrap_or(0);
    if len == 0 {
        let _ = done.send(Spliced::Empty);
        return Ok(());
    }
    // The header goes out first, then the data straight from the pipe behind it.
    encode_output_header(id, stream, len, writer.write_buffer_mut())
        .map_err(std::io::Error::other)?;
    writer.flush().await.map_err(std::io::Error::other)?;
    let socket = writer.get_ref().as_ref();
    if crate::splice::move_exactly(&pipe, socket, len).await? {
        let _ = done.send(Spliced::Sent(len));
        return Ok(());
    }
    // Refused before a byte moved: the bytes promised are read and sent as usual.
    let mut data = vec![0; len];
    let mut got = 0;
    while got < len {
        pipe.readable().await?;
        match pipe.try_read(&mut data[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    writer.write_buffer_mut().extend_from_slice(&data);
    writer.flush().await.map_err(std::io::Error::other)?;
    let _ = done.send(Spliced::Unsupported);
    Ok(())
}
