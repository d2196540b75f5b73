//! Length-prefixed postcard frames over tokio-util's codec: bounded, and typed on bad input.

use std::marker::PhantomData;

use bytes::{BufMut, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::MAX_FRAME;

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
        let frame = match self.frames.decode(src) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(FrameError::TooLarge(declared_len(src)))
            }
            Err(e) => return Err(e.into()),
        };
        postcard::from_bytes::<In>(&frame)
            .map(Some)
            .map_err(|e| FrameError::Malformed(e.to_string()))
    }
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
