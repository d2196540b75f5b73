//! Length-prefixed postcard frames over tokio-util's codec: bounded, and typed on bad input.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::{AgentMessage, ClientMessage, CommandId, Stream, MAX_FRAME};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
}

/// Decodes `In` frames and encodes `Out` frames.
#[derive(Debug)]
pub struct FrameCodec<In, Out> {
    frames: LengthDelimitedCodec,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> Default for FrameCodec<In, Out> {
    fn default() -> Self {
        FrameCodec {
            frames: LengthDelimitedCodec::builder()
                .length_field_length(4)
                .max_frame_length(MAX_FRAME)
                .new_codec(),
            _types: PhantomData,
        }
    }
}

impl<In: DeserializeOwned, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        let Some(frame) = self.next_frame(src)? else {
            return Ok(None);
        };
        deserialize(&frame).map(Some)
    }
}

impl<In, Out> FrameCodec<In, Out> {
    /// The next whole frame's body, bounded by [`MAX_FRAME`].
    fn next_frame(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.frames.decode(src) {
            Ok(frame) => Ok(frame),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(FrameError::TooLarge(declared_len(src)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn deserialize<T: DeserializeOwned>(frame: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes::<T>(frame).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// An agent's frame as the client takes it: a command's output as a slice of the frame it
/// came in (never copied), anything else as its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Output {
        id: CommandId,
        stream: Stream,
        data: Bytes,
    },
    /// Any other message (never `Output`).
    Message(AgentMessage),
}

/// The client's codec: the same frames as `FrameCodec<AgentMessage, ClientMessage>`, with
/// output decoded without a copy (at GB/s, the copy and its fresh allocation per frame were
/// the client's largest cost).
#[derive(Debug, Default)]
pub struct ClientCodec(FrameCodec<AgentMessage, ClientMessage>);

impl Decoder for ClientCodec {
    type Item = Incoming;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, FrameError> {
        let Some(mut frame) = self.0.next_frame(src)? else {
            return Ok(None);
        };
        if let Some((id, stream, start)) = output_header(&frame) {
            frame.advance(start);
            let data = frame.freeze();
            return Ok(Some(Incoming::Output { id, stream, data }));
        }
        deserialize::<AgentMessage>(&frame).map(|m| Some(Incoming::from(m)))
    }
}

impl From<AgentMessage> for Incoming {
    /// Output always comes as [`Incoming::Output`], whichever way it was decoded.
    fn from(m: AgentMessage) -> Self {
        match m {
            AgentMessage::Output { id, stream, data } => Incoming::Output {
                id,
                stream,
                data: Bytes::from(data),
            },
            m => Incoming::Message(m),
        }
    }
}

impl Encoder<ClientMessage> for ClientCodec {
    type Error = FrameError;

    fn encode(&mut self, item: ClientMessage, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.0.encode(item, dst)
    }
}

/// Postcard's index of `AgentMessage::Output` (checked against postcard by the tests).
const OUTPUT_VARIANT: u32 = 3;

/// For a frame that is exactly an `AgentMessage::Output` as postcard writes it — variant
/// index, id, stream, then the data's length and the data to the frame's end — its id, stream
/// and where the data starts. Anything else is left to postcard, which gives the same answer
/// or the error.
fn output_header(frame: &[u8]) -> Option<(CommandId, Stream, usize)> {
    let mut at = 0;
    if varint_u32(frame, &mut at)? != OUTPUT_VARIANT {
        return None;
    }
    let id = varint_u32(frame, &mut at)?;
    let stream = match varint_u32(frame, &mut at)? {
        0 => Stream::Stdout,
        1 => Stream::Stderr,
        _ => return None,
    };
    let len = varint_u32(frame, &mut at)? as usize;
    (frame.len().checked_sub(at)? == len).then_some((id, stream, at))
}

/// Most output bytes in one frame of [`encode_output`]: the frame stays under [`MAX_FRAME`].
pub const MAX_JOINED_OUTPUT: usize = MAX_FRAME - 64;

/// Appends the frame of `AgentMessage::Output` whose data is `pieces` one after the other,
/// exactly as [`FrameCodec`] encodes it, without joining the pieces first: the agent sends the
/// chunks of a stream queued behind a busy socket as one frame, for the price of one copy.
pub fn encode_output<P: AsRef<[u8]>>(
    id: CommandId,
    stream: Stream,
    pieces: &[P],
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let len: usize = pieces.iter().map(|p| p.as_ref().len()).sum();
    encode_output_header(id, stream, len, dst)?;
    dst.reserve(len);
    for p in pieces {
        dst.extend_from_slice(p.as_ref());
    }
    Ok(())
}

/// Appends what comes before the data in [`encode_output`]'s frame of `len` bytes of output:
/// the agent then moves the data itself from the command's pipe to the socket (splice), so
/// that it never passes through the agent's memory.
pub fn encode_output_header(
    id: CommandId,
    stream: Stream,
    len: usize,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    if len > MAX_JOINED_OUTPUT {
        return Err(FrameError::TooLarge(len));
    }
    let mut header = BytesMut::with_capacity(20);
    for value in [OUTPUT_VARIANT, id, stream as u32, len as u32] {
        put_varint_u32(&mut header, value);
    }
    dst.put_u32((header.len() + len) as u32);
    dst.extend_from_slice(&header);
    Ok(())
}

/// A `u32` as postcard writes it (LEB128).
fn put_varint_u32(dst: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        dst.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    dst.put_u8(value as u8);
}

/// A LEB128 `u32` at `*at` as postcard writes it (at most 5 bytes, no bits past 32).
fn varint_u32(frame: &[u8], at: &mut usize) -> Option<u32> {
    let mut value = 0u32;
    for i in 0..5 {
        let byte = *frame.get(*at)?;
        *at += 1;
        if i == 4 && byte > 0x0f {
            return None;
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn declared_len(src: &BytesMut) -> usize {
    src.get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0)
}

impl<In, Out: Serialize> Encoder<Out> for FrameCodec<In, Out> {
    type Error = FrameError;

    /// Serializes straight into `dst` behind a length placeholder: a command's output is
    /// copied once here, not into a growing vector first.
    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<(), FrameError> {
        let start = dst.len();
        dst.put_u32(0);
        if let Err(e) = postcard::serialize_with_flavor(&item, Appended(dst)) {
            dst.truncate(start);
            return Err(FrameError::Malformed(e.to_string()));
        }
        let len = dst.len() - start - 4;
        if len > MAX_FRAME {
            dst.truncate(start);
            return Err(FrameError::TooLarge(len));
        }
        dst[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

/// A postcard output that appends to a `BytesMut`, byte strings in one copy.
struct Appended<'a>(&'a mut BytesMut);

impl postcard::ser_flavors::Flavor for Appended<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.put_u8(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentMessage, ClientMessage, Exit, Spawn, Stream};
    use proptest::prelude::*;

    type ClientSide = FrameCodec<AgentMessage, ClientMessage>;
    type AgentSide = FrameCodec<ClientMessage, AgentMessage>;

    /// What the client codec makes of a frame body, and what postcard alone does.
    fn both_ways(body: &[u8]) -> (Result<Incoming, String>, Result<AgentMessage, String>) {
        let mut framed = BytesMut::new();
        framed.put_u32(body.len() as u32);
        framed.extend_from_slice(body);
        let fast = ClientCodec::default()
            .decode(&mut framed)
            .map(|m| m.expect("a whole frame"))
            .map_err(|e| e.to_string());
        let plain = postcard::from_bytes::<AgentMessage>(body).map_err(|e| e.to_string());
        (fast, plain)
    }

    /// The client codec agrees with postcard: the same message, or both refuse.
    fn agree(body: &[u8]) -> Result<(), TestCaseError> {
        match both_ways(body) {
            (Ok(Incoming::Output { id, stream, data }), plain) => prop_assert_eq!(
                plain,
                Ok(AgentMessage::Output {
                    id,
                    stream,
                    data: data.to_vec()
                })
            ),
            (Ok(Incoming::Message(m)), plain) => {
                let is_output = matches!(m, AgentMessage::Output { .. });
                prop_assert!(!is_output, "output came as a plain message");
                prop_assert_eq!(plain, Ok(m))
            }
            (Err(_), plain) => prop_assert!(plain.is_err(), "postcard took {:?}", plain),
        }
        Ok(())
    }

    #[test]
    fn joined_output_over_the_limit_is_refused_and_writes_nothing() {
        let pieces = [vec![0u8; MAX_JOINED_OUTPUT], vec![1]];
        let mut dst = BytesMut::new();
        let err = encode_output(1, Stream::Stdout, &pieces, &mut dst).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(n) if n == MAX_JOINED_OUTPUT + 1));
        assert!(dst.is_empty());
        encode_output(1, Stream::Stdout, &pieces[..1], &mut dst).unwrap();
        assert!(dst.len() <= 4 + MAX_FRAME);
        assert!(ClientCodec::default().decode(&mut dst).unwrap().is_some());
    }

    #[test]
    fn output_is_sliced_from_the_frame_and_the_rest_decoded_as_usual() {
        let output = AgentMessage::Output {
            id: 300,
            stream: Stream::Stderr,
            data: vec![1, 2, 3],
        };
        let body = postcard::to_allocvec(&output).unwrap();
        assert_eq!(body[0] as u32, OUTPUT_VARIANT, "postcard's index of Output");
        assert_eq!(
            both_ways(&body).0,
            Ok(Incoming::Output {
                id: 300,
                stream: Stream::Stderr,
                data: Bytes::from_static(&[1, 2, 3])
            })
        );
        let started = AgentMessage::Started { id: 7, pid: 42 };
        let body = postcard::to_allocvec(&started).unwrap();
        assert_eq!(both_ways(&body).0, Ok(Incoming::Message(started)));
    }

    #[test]
    fn messages_round_trip() {
        let msgs = vec![
            AgentMessage::Output {
                id: 3,
                stream: Stream::Stderr,
                data: vec![0, 255, 10],
            },
            AgentMessage::Exited {
                id: 3,
                exit: Exit::Signal(9),
            },
            AgentMessage::Refused {
                id: None,
                reason: "x".into(),
            },
        ];
        let mut buf = BytesMut::new();
        let mut agent = AgentSide::default();
        for m in msgs.clone() {
            agent.encode(m, &mut buf).unwrap();
        }
        let mut client = ClientSide::default();
        let mut got = Vec::new();
        while let Some(m) = client.decode(&mut buf).unwrap() {
            got.push(m);
        }
        assert_eq!(got, msgs);
    }

    #[test]
    fn an_oversized_length_is_refused_before_any_allocation() {
        let mut buf = BytesMut::from(&u32::MAX.to_be_bytes()[..]);
        let err = ClientSide::default().decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge(n) if n == u32::MAX as usize),
            "{err}"
        );
    }

    #[test]
    fn an_oversized_message_is_refused_and_leaves_what_was_queued() {
        let mut agent = AgentSide::default();
        let mut buf = BytesMut::new();
        let small = AgentMessage::Exited {
            id: 1,
            exit: Exit::Code(0),
        };
        agent.encode(small.clone(), &mut buf).unwrap();
        let queued = buf.clone();
        let big = AgentMessage::Output {
            id: 1,
            stream: Stream::Stdout,
            data: vec![7; MAX_FRAME],
        };
        assert!(matches!(
            agent.encode(big, &mut buf),
            Err(FrameError::TooLarge(n)) if n > MAX_FRAME
        ));
        assert_eq!(buf, queued);
        let mut client = ClientSide::default();
        assert_eq!(client.decode(&mut buf).unwrap(), Some(small));
    }

    #[test]
    fn garbage_in_a_frame_is_malformed() {
        let mut buf = BytesMut::new();
        buf.put_u32(3);
        buf.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            ClientSide::default().decode(&mut buf),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn a_spawn_survives_the_trip() {
        let spawn = Spawn {
            argv: vec!["printf".into(), "%s\n".into(), "it's".into()],
            env: vec![("K".into(), "V".into())],
            cwd: Some("/tmp".into()),
            user: Some("1000".into()),
            stdin: true,
            pty: Some((80, 24)),
            timeout_ms: Some(1500),
        };
        let mut buf = BytesMut::new();
        FrameCodec::<AgentMessage, ClientMessage>::default()
            .encode(
                ClientMessage::Spawn {
                    id: 1,
                    spawn: spawn.clone(),
                },
                &mut buf,
            )
            .unwrap();
        let got = AgentSide::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(got, ClientMessage::Spawn { id: 1, spawn });
    }

    proptest! {
        #[test]
        fn the_client_codec_agrees_with_postcard_on_any_output(
            id in any::<u32>(), stderr in any::<bool>(),
            data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let stream = if stderr { Stream::Stderr } else { Stream::Stdout };
            let body = postcard::to_allocvec(&AgentMessage::Output { id, stream, data }).unwrap();
            agree(&body)?;
        }

        #[test]
        fn the_client_codec_agrees_with_postcard_on_any_bytes(
            head in proptest::collection::vec(any::<u8>(), 0..12),
            rest in proptest::collection::vec(any::<u8>(), 0..64)) {
            // Mostly output-like heads: the variant index, then anything.
            let mut body = vec![OUTPUT_VARIANT as u8];
            body.extend_from_slice(&head);
            body.extend_from_slice(&rest);
            agree(&body)?;
            agree(&head)?;
        }

        // A hostile peer's bytes, cut anywhere: the decoder answers with frames, "need more" or
        // a typed error — never a panic, and never a frame over the limit.
        #[test]
        fn hostile_bytes_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut client = ClientSide::default();
            let mut agent = AgentSide::default();
            let mut a = BytesMut::new();
            let mut b = BytesMut::new();
            for chunk in chunks {
                a.extend_from_slice(&chunk);
                b.extend_from_slice(&chunk);
                loop {
                    match client.decode(&mut a) {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(_) => { a.clear(); break }
                    }
                }
                loop {
                    match agent.decode(&mut b) {
                        Ok(Some(_)) => continue,
                        Ok(None) => break,
                        Err(_) => { b.clear(); break }
                    }
                }
            }
        }

        // Chunks joined into one frame: byte for byte the frame of their concatenation.
        #[test]
        fn joined_output_is_the_frame_of_the_concatenation(
            id in any::<u32>(), stderr in any::<bool>(),
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6)) {
            let stream = if stderr { Stream::Stderr } else { Stream::Stdout };
            let mut joined = BytesMut::new();
            encode_output(id, stream, &pieces, &mut joined).unwrap();
            let data = pieces.concat();
            let mut plain = BytesMut::new();
            AgentSide::default().encode(AgentMessage::Output { id, stream, data: data.clone() }, &mut plain).unwrap();
            prop_assert_eq!(&joined, &plain);
            let decoded = ClientCodec::default().decode(&mut joined).unwrap();
            prop_assert_eq!(decoded, Some(Incoming::Output { id, stream, data: Bytes::from(data) }));
        }

        // Valid frames split at arbitrary points decode to exactly what was sent.
        #[test]
        fn frames_split_anywhere_decode_whole(data in proptest::collection::vec(any::<u8>(), 0..4096),
                                              cut in 0usize..5000) {
            let msg = AgentMessage::Output { id: 9, stream: Stream::Stdout, data };
            let mut whole = BytesMut::new();
            AgentSide::default().encode(msg.clone(), &mut whole).unwrap();
            let cut = cut.min(whole.len());
            let mut client = ClientSide::default();
            let mut buf = BytesMut::from(&whole[..cut]);
            let first = client.decode(&mut buf).unwrap();
            if cut < whole.len() {
                prop_assert!(first.is_none());
                buf.extend_from_slice(&whole[cut..]);
                prop_assert_eq!(client.decode(&mut buf).unwrap(), Some(msg));
            } else {
                prop_assert_eq!(first, Some(msg));
            }
        }
    }
}
