//! Plain `GET`s over the engine socket through hyper, for what bollard cannot do for us: loose
//! JSON where its strict models reject an answer (Podman lists containers in a `stopped` state
//! that the Docker API schema, and so bollard, does not know — one such container fails the
//! whole listing), and `/_ping`'s headers before any client is negotiated.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::Engine;
use crate::error::{Error, Result};

/// Largest answer we accept (a listing of thousands of containers fits easily).
const MAX_RESPONSE: usize = 64 << 20;
/// How long one such request may take, connection included.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long `/_ping` may take to answer.
const PING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// An answer: status, headers, body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

/// `GET path` on the socket, within `patience`.
async fn get(
    socket: &std::path::Path,
    path_and_query: &str,
    patience: std::time::Duration,
) -> Result<Answer> {
    let connection_error = |detail: String| Error::SocketConnection {
        socket_path: socket.to_path_buf(),
        detail,
    };
    let exchange = async {
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| connection_error(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connection_error(e.to_string()))?;
        tokio::spawn(connection);
        let request = http::Request::get(path_and_query)
            .header(http::header::HOST, "localhost")
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| Error::invalid(format!("a bad engine request {path_and_query}: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Error::communication(format!("GET {path_and_query}: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| Error::communication(format!("GET {path_and_query}: {e}")))?
            .to_bytes();
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(patience, exchange)
        .await
        .map_err(|_| {
            connection_error(format!("no answer to GET {path_and_query} in {patience:?}"))
        })?
}

impl Engine {
    /// `GET /v<version><path_and_query>` → JSON.
    pub(crate) async fn get_json(&self, path_and_query: &str) -> Result<Value> {
        self.get_json_at(&format!("/v{}{}", self.api_version(), path_and_query))
            .await
    }

    /// `GET path_and_query` (a full path: Podman's libpod endpoints have versions of their own).
    pub(crate) async fn get_json_at(&self, path_and_query: &str) -> Result<Value> {
        let answer = get(self.socket_path(), path_and_query, PATIENCE).await?;
        let value: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Error::communication(format!("bad JSON from {path_and_query}: {e}")))?;
        if answer.status >= 400 {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(Error::communication(format!(
                "{message} (HTTP {})",
                answer.status
            )));
        }
        Ok(value)
    }
}

/// The API version and engine kind from `GET /_ping`'s headers: cheap on every engine, where
/// Podman's `/version` takes half a second (it gathers host information).
pub(super) async fn ping_versions(socket: &std::path::Path) -> Result<Option<(String, bool)>> {
    let answer = get(socket, "/_ping", PING_PATIENCE).await?;
    Ok(versions_from_ping(&answer.headers))
}

fn versions_from_ping(headers: &http::HeaderMap) -> Option<(String, bool)> {
    let api = headers
        .get("api-version")?
        .to_str()
        .ok()?
        .trim()
        .to_string();
    Some((api, headers.contains_key("libpod-api-version")))
}

#[cfg(test)]
mod tests {
    use super::versions_from_ping;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn ping_headers_give_the_version_and_the_engine() {
        let podman = headers(&[("api-version", "1.41"), ("libpod-api-version", "4.3.1")]);
        assert_eq!(versions_from_ping(&podman), Some(("1.41".into(), true)));
        let docker = headers(&[("api-version", "1.45"), ("server", "Docker/26.1")]);
        assert_eq!(versions_from_ping(&docker), Some(("1.45".into(), false)));
        assert_eq!(versions_from_ping(&headers(&[])), None);
    }
}
