//! MCP over streamable HTTP: on a loopback address only, every request with the bearer token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::{McpConfig, McpError, PocketdockServer};

/// Where and behind what the HTTP server listens.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// A loopback address (127.0.0.1 or ::1) and port.
    pub addr: SocketAddr,
    /// Requests must carry `Authorization: Bearer <token>`.
    pub token: String,
}

/// Serves MCP at `http://ADDR/mcp` until SIGTERM or SIGINT; then removes the server's
/// sandboxes. Every client session shares the same sandboxes.
pub async fn serve_http(
    config: McpConfig,
    options: HttpOptions,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), McpError> {
    let fail = |detail: String| McpError::Http {
        addr: options.addr.to_string(),
        detail,
    };
    if !options.addr.ip().is_loopback() {
        return Err(fail(
            "only a loopback address (127.0.0.1, ::1) is served: sandboxes are not for the network"
                .into(),
        ));
    }
    if options.token.len() < 16 {
        return Err(fail(
            "the bearer token must have at least 16 characters".into(),
        ));
    }
    let server = PocketdockServer::new(config)?;
    let per_session = server.clone();
    let service = StreamableHttpService::new(
        move || Ok(per_session.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let token: Arc<str> = Arc::from(format!("Bearer {}", options.token));
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(token, authorized));
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| fail(e.to_string()))?;
    on_listening(listener.local_addr().map_err(|e| fail(e.to_string()))?);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(crate::termination())
        .await
        .map_err(|e| fail(e.to_string()));
    server.shut_down().await;
    served
}

async fn authorized(State(expected): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(given, expected.as_bytes()) {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response()
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
        assert!(!constant_time_eq(b"", b"Bearer abc"));
    }
}
