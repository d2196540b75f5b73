//! A hostile peer on the agent socket: any bytes, in any pieces, decode to frames or a typed
//! error — never a panic, never more than one frame's worth of memory.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pocketdock_agent_protocol::{AgentMessage, ClientCodec, ClientMessage, FrameCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    // Both directions: what the client reads (plain, and as the client's codec slices
    // output), and what the agent reads.
    let mut plain = FrameCodec::<AgentMessage, ClientMessage>::default();
    let mut client = ClientCodec::default();
    let mut agent = FrameCodec::<ClientMessage, AgentMessage>::default();
    let split = data.first().map_or(1, |b| usize::from(*b).max(1));
    let (mut a, mut b, mut c) = (BytesMut::new(), BytesMut::new(), BytesMut::new());
    for piece in data.chunks(split) {
        a.extend_from_slice(piece);
        b.extend_from_slice(piece);
        c.extend_from_slice(piece);
        while let Ok(Some(_)) = plain.decode(&mut a) {}
        while let Ok(Some(_)) = agent.decode(&mut b) {}
        while let Ok(Some(_)) = client.decode(&mut c) {}
    }
});
