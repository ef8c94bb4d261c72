//! A tiny HTTP/1.1 server on 127.0.0.1 for the registry clients' hermetic tests: one request per
//! connection, the answer computed from the request head, every request head recorded.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request head as sent.
    pub head: String,
    /// The head in lower case (for header matching).
    pub lower: String,
    /// The request target (path and query), as sent.
    pub target: String,
}

impl Request {
    pub fn has_auth(&self) -> bool {
        self.lower.lines().any(|l| l.starts_with("authorization:"))
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Vec<u8> + Send + Sync>;

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    pub fn seen(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Serve `handler` until the test's runtime ends.
pub async fn serve(handler: Handler) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (handler, seen) = (handler.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let req = Request {
                    lower: head.to_ascii_lowercase(),
                    target: head.split_whitespace().nth(1).unwrap_or("").to_string(),
                    head,
                };
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(req.clone());
                let resp = handler(&req);
                let _ = sock.write_all(&resp).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    TestServer {
        base: format!("http://{addr}"),
        addr,
        requests,
    }
}

/// A whole response: `status` is the status line's tail (`"200 OK"`).
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
