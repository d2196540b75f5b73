//! A plain HTTP/1.0 GET over the engine socket, parsed as loose JSON. For answers that bollard's
//! strict models reject: Podman lists containers in a `stopped` state that the Docker API
//! schema (and so bollard) does not know, and one such container fails the whole listing.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Engine;
use crate::error::{Error, Result};

/// Largest answer we accept (a listing of thousands of containers fits easily).
const MAX_RESPONSE: u64 = 64 << 20;

impl Engine {
    /// `GET /v<version><path_and_query>` → JSON. HTTP/1.0 so the engine answers without chunked
    /// encoding and closes the connection at the end.
    pub(crate) async fn get_json(&self, path_and_query: &str) -> Result<Value> {
        let socket = self.socket_path();
        let connection_error = |e: std::io::Error| Error::SocketConnection {
            socket_path: socket.to_path_buf(),
            detail: e.to_string(),
        };
        let mut stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(connection_error)?;
        let request = format!(
            "GET /v{}{} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
            self.api_version(),
            path_and_query
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(connection_error)?;
        let mut response = Vec::new();
        stream
            .take(MAX_RESPONSE)
            .read_to_end(&mut response)
            .await
            .map_err(Error::communication)?;
        let (status, body) = split_response(&response)?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Error::communication(format!("bad JSON from {path_and_query}: {e}")))?;
        if status >= 400 {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(Error::communication(format!("{message} (HTTP {status})")));
        }
        Ok(value)
    }
}

/// How long `/_ping` may take to answer.
const PING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The API version and engine kind from `GET /_ping`'s headers: cheap on every engine, where
/// Podman's `/version` takes half a second (it gathers host information).
pub(super) async fn ping_versions(socket: &std::path::Path) -> Result<Option<(String, bool)>> {
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await?;
        stream
            .write_all(b"GET /_ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(PING_PATIENCE, exchange)
        .await
        .map_err(|_| Error::SocketConnection {
            socket_path: socket.to_path_buf(),
            detail: "no answer to /_ping".into(),
        })?
        .map_err(|e| Error::SocketConnection {
            socket_path: socket.to_path_buf(),
            detail: e.to_string(),
        })?;
    Ok(parse_ping(&response))
}

fn parse_ping(response: &[u8]) -> Option<(String, bool)> {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..head_end]).ok()?;
    let mut api = None;
    let mut podman = false;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "api-version" => api = Some(value.trim().to_string()),
            "libpod-api-version" => podman = true,
            _ => {}
        }
    }
    api.map(|v| (v, podman))
}

/// Status code and body of a raw HTTP response.
fn split_response(response: &[u8]) -> Result<(u16, &[u8])> {
    let bad = || Error::communication("malformed HTTP response from the engine");
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&response[..head_end]).map_err(|_| bad())?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err(Error::communication(
            "the engine answered an HTTP/1.0 request with chunked encoding",
        ));
    }
    Ok((status, &response[head_end + 4..]))
}

#[cfg(test)]
mod ping_tests {
    use super::parse_ping;

    #[test]
    fn ping_headers_give_the_version_and_the_engine() {
        let podman = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\n\r\nOK";
        assert_eq!(parse_ping(podman), Some(("1.41".into(), true)));
        let docker = b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nServer: Docker/26.1\r\n\r\nOK";
        assert_eq!(parse_ping(docker), Some(("1.45".into(), false)));
        assert_eq!(parse_ping(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(parse_ping(b"garbage"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::split_response;

    #[test]
    fn splits_status_and_body() {
        let (status, body) =
            split_response(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n[1]").unwrap();
        assert_eq!((status, body), (200, &b"[1]"[..]));
        assert!(split_response(b"garbage").is_err());
        assert!(
            split_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1]")
                .is_err()
        );
    }
}
