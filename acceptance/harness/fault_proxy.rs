//! The proxy half of [`super::faults::FaultServer`]: forwarding one request to a real upstream on
//! loopback and turning its answer into the [`Fault`] that is served (as it came, or spoiled by a
//! [`Mangle`]), request matching for conditional routes ([`Match`]), and [`TcpTunnel`], a plain
//! TCP forwarder (a TLS server seen under another address: a certificate for another name).

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::faults::{Fault, SeenRequest};

/// How [`Fault::Upstream`] spoils the upstream's real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mangle {
    /// The real head (its full length announced), half the body, then a clean close.
    Truncate,
    /// The real head, half the body, then a TCP reset.
    ResetMidBody,
    /// The real answer, `chunk` bytes at a time with `every` between them.
    Drip { chunk: usize, every: Duration },
    /// The real body under another `Content-Type`.
    ContentType(String),
}

/// Which requests a conditional route ([`super::FaultServer::route_when`]) applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// A header (name in lower case) whose value contains the text (`x-amz-target`,
    /// `GetAuthorizationToken`).
    Header(String, String),
    /// A request body that contains the text (`Action=AssumeRole`).
    Body(String),
    /// Every one of these.
    All(Vec<Match>),
}

impl Match {
    pub fn header(name: &str, contains: &str) -> Match {
        Match::Header(name.to_ascii_lowercase(), contains.to_string())
    }
    pub fn body(contains: &str) -> Match {
        Match::Body(contains.to_string())
    }
    pub fn matches(&self, r: &SeenRequest) -> bool {
        match self {
            Match::Header(n, v) => r.header(n).is_some_and(|h| h.contains(v.as_str())),
            Match::Body(v) => String::from_utf8_lossy(&r.body).contains(v.as_str()),
            Match::All(ms) => ms.iter().all(|m| m.matches(r)),
        }
    }
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "te" | "upgrade"
    )
}

/// The upstream's answer: status, headers (lower-case names, hop-by-hop ones dropped) and the
/// whole body (de-chunked).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn ask_upstream(req: &SeenRequest, up: SocketAddr, unconditional: bool) -> std::io::Result<Answer> {
    let mut conn = TcpStream::connect_timeout(&up, Duration::from_secs(5))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    conn.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if hop_by_hop(k)
            || (unconditional && matches!(k.as_str(), "if-none-match" | "if-modified-since"))
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(&req.body)?;
    conn.flush()?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let all: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = all
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let rest = &raw[end + 4..];
    let mut body = if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else {
        rest.to_vec()
    };
    if let Some(n) = all
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        if req.method != "HEAD" {
            body.truncate(n);
        }
    }
    let headers = all
        .into_iter()
        .filter(|(k, _)| !hop_by_hop(k) && (k != "content-length" || req.method == "HEAD"))
        .collect();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// The fault that serves `req` from the upstream `up`: its answer as it came (`mangle` `None`)
/// or spoiled. An upstream that cannot be reached gives a 502, as a proxy would.
pub(super) fn forwarded(req: &SeenRequest, up: SocketAddr, mangle: Option<&Mangle>) -> Fault {
    let a = match ask_upstream(req, up, mangle.is_some()) {
        Ok(a) => a,
        Err(e) => return Fault::respond(502, format!("fault proxy: upstream {up}: {e}")),
    };
    let half = a.body.len() / 2;
    match mangle {
        None => Fault::Respond {
            status: a.status,
            headers: a.headers,
            body: a.body,
        },
        Some(Mangle::Truncate) => Fault::Truncate {
            status: a.status,
            headers: a.headers,
            declared: a.body.len(),
            body: a.body[..half].to_vec(),
        },
        Some(Mangle::ResetMidBody) => Fault::ResetMidBody {
            status: a.status,
            headers: a.headers,
            declared: a.body.len(),
            body: a.body[..half].to_vec(),
        },
        Some(Mangle::Drip { chunk, every }) => Fault::Drip {
            status: a.status,
            headers: a.headers,
            body: a.body,
            chunk: *chunk,
            every: *every,
        },
        Some(Mangle::ContentType(ct)) => {
            let mut headers: Vec<(String, String)> = a
                .headers
                .into_iter()
                .filter(|(k, _)| k != "content-type")
                .collect();
            headers.push(("content-type".into(), ct.clone()));
            Fault::Respond {
                status: a.status,
                headers,
                body: a.body,
            }
        }
    }
}

/// A plain TCP forwarder from `ip:PORT` to an upstream: a TLS server reached under an address its
/// certificate does not name. The upstream can be switched while it runs
/// ([`TcpTunnel::set_upstream`]: new connections go to the new one, the port stays). Counts
/// connections; stops on drop.
pub struct TcpTunnel {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    upstream: Arc<Mutex<SocketAddr>>,
}

fn parse_upstream(upstream: &str) -> SocketAddr {
    upstream
        .parse()
        .unwrap_or_else(|e| panic!("upstream {upstream:?}: {e}"))
}

impl TcpTunnel {
    /// Panics if it cannot bind.
    pub fn start(ip: IpAddr, upstream: &str) -> TcpTunnel {
        let upstream = Arc::new(Mutex::new(parse_upstream(upstream)));
        let listener = TcpListener::bind((ip, 0)).expect("tunnel bind");
        let addr = listener.local_addr().expect("tunnel addr");
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (sp, n, current) = (stop.clone(), connections.clone(), upstream.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(down) = conn else { continue };
                n.fetch_add(1, Ordering::SeqCst);
                let up = *current.lock().unwrap_or_else(|e| e.into_inner());
                std::thread::spawn(move || {
                    let Ok(upc) = TcpStream::connect_timeout(&up, Duration::from_secs(5)) else {
                        return;
                    };
                    let (Ok(mut d2), Ok(mut u2)) = (down.try_clone(), upc.try_clone()) else {
                        return;
                    };
                    let t = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut d2, &mut u2);
                        let _ = u2.shutdown(Shutdown::Write);
                    });
                    let (mut d, mut u) = (down, upc);
                    let _ = std::io::copy(&mut u, &mut d);
                    let _ = d.shutdown(Shutdown::Write);
                    let _ = t.join();
                });
            }
        });
        TcpTunnel {
            addr,
            stop,
            connections,
            upstream,
        }
    }

    /// Connections accepted from now on are forwarded to `upstream` (`host:port`); those already
    /// open keep theirs.
    pub fn set_upstream(&self, upstream: &str) {
        *self.upstream.lock().unwrap_or_else(|e| e.into_inner()) = parse_upstream(upstream);
    }

    /// Connections accepted so far (all upstreams).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TcpTunnel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}
