//! Mutual proof of the sandbox key, with nonces from both sides.
//!
//! 1. agent → `Hello { nonce_a, tag = HMAC(key, "hello" ‖ nonce_a) }` — the client writes nothing
//!    until this verifies, so a socket swapped for a symlink to some host service gets no byte.
//! 2. client → `Auth { nonce_c, tag = HMAC(key, "client" ‖ nonce_a ‖ nonce_c) }` — a process in
//!    the sandbox that reaches the socket cannot run commands as the agent's user.
//! 3. agent → `Ready { tag = HMAC(key, "ready" ‖ nonce_c) }` — fresh: a replayed hello fails here.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub type Key = [u8; 32];
pub type Tag = [u8; 32];

fn tag(key: &Key, parts: &[&[u8]]) -> Tag {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn verify(key: &Key, parts: &[&[u8]], given: &Tag) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(given).is_ok() // constant time
}

pub fn hello_tag(key: &Key, agent_nonce: &[u8; 32]) -> Tag {
    tag(key, &[b"hello", agent_nonce])
}

pub fn verify_hello(key: &Key, agent_nonce: &[u8; 32], given: &Tag) -> bool {
    verify(key, &[b"hello", agent_nonce], given)
}

pub fn client_tag(key: &Key, agent_nonce: &[u8; 32], client_nonce: &[u8; 32]) -> Tag {
    tag(key, &[b"client", agent_nonce, client_nonce])
}

pub fn verify_client(
    key: &Key,
    agent_nonce: &[u8; 32],
    client_nonce: &[u8; 32],
    given: &Tag,
) -> bool {
    verify(key, &[b"client", agent_nonce, client_nonce], given)
}

pub fn ready_tag(key: &Key, client_nonce: &[u8; 32]) -> Tag {
    tag(key, &[b"ready", client_nonce])
}

pub fn verify_ready(key: &Key, client_nonce: &[u8; 32], given: &Tag) -> bool {
    verify(key, &[b"ready", client_nonce], given)
}

/// The key as it is stored (label, key file): 64 lowercase hex digits.
pub fn encode_key(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_key(text: &str) -> Option<Key> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_proof_verifies_only_with_its_own_key_and_nonces() {
        let (k, other) = ([7u8; 32], [8u8; 32]);
        let (a, c) = ([1u8; 32], [2u8; 32]);
        assert!(verify_hello(&k, &a, &hello_tag(&k, &a)));
        assert!(!verify_hello(&other, &a, &hello_tag(&k, &a)));
        assert!(!verify_hello(&k, &c, &hello_tag(&k, &a)));
        assert!(verify_client(&k, &a, &c, &client_tag(&k, &a, &c)));
        assert!(!verify_client(&k, &c, &a, &client_tag(&k, &a, &c)));
        assert!(verify_ready(&k, &c, &ready_tag(&k, &c)));
        // Domain separation: one step's tag is never another's.
        assert!(!verify_ready(&k, &a, &hello_tag(&k, &a)));
    }

    #[test]
    fn keys_round_trip_and_bad_text_is_refused() {
        let k: Key = core::array::from_fn(|i| (i as u8).wrapping_mul(9));
        assert_eq!(decode_key(&encode_key(&k)), Some(k));
        for bad in ["", "zz", &"g".repeat(64), &"€".repeat(32)] {
            assert_eq!(decode_key(bad), None, "{bad:?}");
        }
    }
}
