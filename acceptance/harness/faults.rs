//! A fault-serving HTTP/1.1 server on 127.0.0.1 for the security and reliability cases: every
//! path answers from a script of [`Fault`]s (one per request, the last one repeating), so a test
//! can play a registry that sends huge numbers, echoes headers, resets mid-body, stalls, redirects
//! to odd schemes or gzips an index. Every request is logged with its headers for assertions
//! (e.g. "no `Authorization` reached this host").
//!
//! ```ignore
//! let fs = FaultServer::start();
//! fs.route("/index.yaml", vec![Fault::status(503).header("Retry-After", "2"), Fault::ok(INDEX)]);
//! // ... point a registry at fs.url("/") ...
//! assert_eq!(fs.requests_to("/index.yaml").len(), 2);
//! ```
//!
//! Connections are `Connection: close`; one thread per connection; the server stops on drop.
//!
//! **Proxy mode** ([`FaultServer::proxy`]): the server stands in front of a real upstream on
//! loopback (the testbed's nginx, docker-registry, moto). Unscripted paths, and scripted requests
//! whose fault is [`Fault::Forward`], are forwarded to it as sent (Host included, so signatures
//! and generated URLs stay valid); [`Fault::Upstream`] forwards and then spoils the real answer
//! ([`Mangle`]: cut short, reset, dripped, another content type). So a script can say "the
//! second request to `/public/index.yaml` gets a 503, every other one the real index":
//!
//! ```ignore
//! let p = FaultServer::proxy(&nginx_addr);
//! p.route("/public/index.yaml", vec![Fault::Forward, Fault::status(503), Fault::Forward]);
//! p.route_when("/", Match::Header("x-amz-target", "GetAuthorizationToken"), vec![Fault::status(500)]);
//! p.set_down(true);   // connection refused until set_down(false), on the same port
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A complete response (Content-Length set from `body` unless a header gives it).
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers announcing `declared` bytes, then `body` (shorter), then a clean close.
    Truncate {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        declared: usize,
    },
    /// Headers announcing `declared` bytes, then `body` (shorter), then a TCP reset (RST).
    ResetMidBody {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        declared: usize,
    },
    /// Reads the request, then says nothing for this long (then closes).
    Stall(Duration),
    /// Reads the request, then resets the connection without answering.
    Reset,
    /// A complete response written `chunk` bytes at a time with `every` between chunks.
    Drip {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunk: usize,
        every: Duration,
    },
    /// `status` with a body that repeats every request header line back (`Name: value`), as
    /// some misconfigured servers and debug pages do.
    EchoHeaders { status: u16 },
    /// Proxy mode: the request goes to the upstream and its answer comes back unchanged.
    Forward,
    /// Proxy mode: the request goes to the upstream (without `If-None-Match` /
    /// `If-Modified-Since`, so that there is a body to spoil) and its answer comes back spoiled.
    Upstream(Mangle),
}

pub use super::fault_proxy::{Mangle, Match, TcpTunnel};

impl Fault {
    pub fn respond(status: u16, body: impl Into<Vec<u8>>) -> Fault {
        Fault::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    /// 200 with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Fault {
        Fault::respond(200, body)
    }
    /// `status` with an empty body.
    pub fn status(status: u16) -> Fault {
        Fault::respond(status, Vec::new())
    }
    /// `status` with a JSON body and `Content-Type: application/json`.
    pub fn json(status: u16, v: &serde_json::Value) -> Fault {
        Fault::respond(status, v.to_string()).header("Content-Type", "application/json")
    }
    /// A redirect (`status` 301/302/303/307/308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Fault {
        Fault::status(status).header("Location", location)
    }
    /// Adds a response header (no effect on `Stall`, `Reset`, `EchoHeaders`).
    pub fn header(mut self, k: &str, v: &str) -> Fault {
        match &mut self {
            Fault::Respond { headers, .. }
            | Fault::Truncate { headers, .. }
            | Fault::ResetMidBody { headers, .. }
            | Fault::Drip { headers, .. } => headers.push((k.to_string(), v.to_string())),
            _ => {}
        }
        self
    }
}

/// One request as the server saw it. Header names are lower-case.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// Path with query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The request body (kept for forwarding and matching).
    pub body: Vec<u8>,
    pub at: Instant,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    routes: HashMap<String, (Vec<Fault>, usize)>,
    /// Proxy mode: routes that apply to a path only when the request matches, checked first.
    conditional: Vec<(String, Match, Vec<Fault>, usize)>,
    log: Vec<SeenRequest>,
    /// Proxy mode: where forwarded requests go.
    upstream: Option<SocketAddr>,
    /// Faults served (requests answered otherwise than by forwarding) per path, for the figures.
    injected: HashMap<String, usize>,
}

/// The server; stops when dropped.
pub struct FaultServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    /// The accept loop in service, `None` while down ([`FaultServer::set_down`]).
    accepting: Mutex<Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>>,
}

impl FaultServer {
    /// Binds 127.0.0.1 on a free port and serves in background threads. Panics if it cannot bind.
    pub fn start() -> FaultServer {
        FaultServer::start_on("127.0.0.1".parse().expect("loopback"), None)
    }

    /// Proxy mode in front of `upstream` (`127.0.0.1:PORT`, plain HTTP): unscripted paths are
    /// forwarded instead of answering 404. Panics if it cannot bind or `upstream` is no address.
    pub fn proxy(upstream: &str) -> FaultServer {
        let up: SocketAddr = upstream
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream:?}: {e}"));
        FaultServer::start_on("127.0.0.1".parse().expect("loopback"), Some(up))
    }

    /// [`FaultServer::proxy`] bound to another loopback address (`LOOPBACK2`: a second host).
    pub fn proxy_on(ip: std::net::IpAddr, upstream: &str) -> FaultServer {
        let up: SocketAddr = upstream
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream:?}: {e}"));
        FaultServer::start_on(ip, Some(up))
    }

    fn start_on(ip: std::net::IpAddr, upstream: Option<SocketAddr>) -> FaultServer {
        let listener = TcpListener::bind((ip, 0)).expect("fault server bind");
        let addr = listener.local_addr().expect("fault server addr");
        let state = Arc::new(Mutex::new(State {
            upstream,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let fs = FaultServer {
            addr,
            state,
            stop,
            accepting: Mutex::new(None),
        };
        fs.accept_on(listener);
        fs
    }

    fn accept_on(&self, listener: TcpListener) {
        let (st, sp) = (self.state.clone(), self.stop.clone());
        let closing = Arc::new(AtomicBool::new(false));
        let cl = closing.clone();
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) || cl.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        *self.accepting.lock().unwrap() = Some((closing, handle));
    }

    /// Down: the listening socket is closed, so connections are refused (as a registry that is
    /// not running); up again: the same port is bound again. Connections already accepted
    /// finish. Panics if the port cannot be bound again.
    pub fn set_down(&self, down: bool) {
        let mut acc = self.accepting.lock().unwrap();
        match (down, acc.take()) {
            (true, Some((closing, handle))) => {
                closing.store(true, Ordering::SeqCst);
                let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
                let _ = handle.join();
            }
            (false, None) => {
                drop(acc);
                let mut tries = 0;
                let listener = loop {
                    match TcpListener::bind(self.addr) {
                        Ok(l) => break l,
                        Err(e) if tries < 50 => {
                            tries += 1;
                            let _ = e;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        Err(e) => panic!("fault server: cannot bind {} again: {e}", self.addr),
                    }
                };
                self.accept_on(listener);
            }
            (_, other) => *acc = other,
        }
    }

    /// Scripts requests to `path` that match `m` (checked before [`FaultServer::route`]'s
    /// scripts; the k-th matching request gets `faults[k]`, the last one repeating).
    pub fn route_when(&self, path: &str, m: Match, faults: Vec<Fault>) {
        assert!(!faults.is_empty(), "a route needs at least one fault");
        let mut st = self.state.lock().unwrap();
        st.conditional
            .retain(|(p, mm, _, _)| !(p == path && *mm == m));
        st.conditional.push((path.to_string(), m, faults, 0));
    }

    /// Removes every script: all requests are forwarded again (proxy mode) or answer 404.
    pub fn clear_routes(&self) {
        let mut st = self.state.lock().unwrap();
        st.routes.clear();
        st.conditional.clear();
    }

    /// How many requests were answered with a fault rather than forwarded unchanged (since the
    /// start or [`FaultServer::clear_log`]).
    pub fn faults_injected(&self) -> usize {
        self.state.lock().unwrap().injected.values().sum()
    }

    /// [`FaultServer::faults_injected`] on requests to `path` only.
    pub fn faults_injected_on(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .injected
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Scripts `path` (exact match on the path without query): request k gets `faults[k]`, the
    /// last one repeating. Replaces an earlier script for that path and restarts its count.
    /// Unscripted paths answer 404.
    pub fn route(&self, path: &str, faults: Vec<Fault>) {
        assert!(!faults.is_empty(), "a route needs at least one fault");
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), (faults, 0));
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests whose path (without query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    /// Forgets the requests seen and the faults counted.
    pub fn clear_log(&self) {
        let mut st = self.state.lock().unwrap();
        st.log.clear();
        st.injected.clear();
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.accepting.lock().map(|a| a.is_some()).unwrap_or(false) {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
    }
}

fn read_request(conn: &mut TcpStream) -> Option<SeenRequest> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // Drain a request body, if any (we never need it).
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        match conn.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&b[..n]),
        }
    }
    body.truncate(len);
    Some(SeenRequest {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    })
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head(status: u16, headers: &[(String, String)], len: usize) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        h.push_str(&format!("Content-Length: {len}\r\n"));
    }
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn reset(conn: TcpStream) {
    // SO_LINGER 0 makes close() send RST instead of FIN.
    let _ = socket_linger_zero(&conn);
    drop(conn);
}

fn socket_linger_zero(conn: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd and a correctly sized linger struct.
    let r = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) {
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let (fault, upstream) = {
        let mut st = state.lock().unwrap();
        st.log.push(req.clone());
        let upstream = st.upstream;
        let path = req.path().to_string();
        let conditional = st
            .conditional
            .iter_mut()
            .find(|(p, m, _, _)| *p == path && m.matches(&req));
        let fault = match conditional {
            Some((_, _, faults, n)) => {
                let f = faults[(*n).min(faults.len() - 1)].clone();
                *n += 1;
                f
            }
            None => match st.routes.get_mut(&path) {
                Some((faults, n)) => {
                    let f = faults[(*n).min(faults.len() - 1)].clone();
                    *n += 1;
                    f
                }
                None if upstream.is_some() => Fault::Forward,
                None => Fault::respond(404, "not found"),
            },
        };
        if !matches!(fault, Fault::Forward) {
            *st.injected.entry(path).or_default() += 1;
        }
        (fault, upstream)
    };
    let fault = match (fault, upstream) {
        (Fault::Forward, Some(up)) => super::fault_proxy::forwarded(&req, up, None),
        (Fault::Upstream(m), Some(up)) => super::fault_proxy::forwarded(&req, up, Some(&m)),
        (Fault::Forward | Fault::Upstream(_), None) => {
            Fault::respond(500, "fault server: Forward without an upstream")
        }
        (f, _) => f,
    };
    let _ = conn.set_write_timeout(Some(Duration::from_secs(30)));
    let reset_mid_body = matches!(fault, Fault::ResetMidBody { .. });
    match fault {
        Fault::Respond {
            status,
            headers,
            body,
        } => {
            let _ = conn.write_all(&head(status, &headers, body.len()));
            if req.method != "HEAD" {
                let _ = conn.write_all(&body);
            }
            let _ = conn.flush();
            let _ = conn.shutdown(Shutdown::Write);
            // let the client read before the socket goes away
            let mut sink = [0u8; 256];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
        }
        // a body cut short: the head declares `declared` bytes, fewer follow, then a clean
        // close (Truncate) or a TCP reset (ResetMidBody)
        Fault::Truncate {
            status,
            headers,
            body,
            declared,
        }
        | Fault::ResetMidBody {
            status,
            headers,
            body,
            declared,
        } => {
            let _ = conn.write_all(&head(status, &headers, declared));
            let _ = conn.write_all(&body);
            let _ = conn.flush();
            if reset_mid_body {
                std::thread::sleep(Duration::from_millis(50));
                reset(conn);
            } else {
                let _ = conn.shutdown(Shutdown::Both);
            }
        }
        Fault::Stall(d) => {
            std::thread::sleep(d);
        }
        Fault::Reset => reset(conn),
        Fault::Drip {
            status,
            headers,
            body,
            chunk,
            every,
        } => {
            let _ = conn.write_all(&head(status, &headers, body.len()));
            for c in body.chunks(chunk.max(1)) {
                if conn.write_all(c).and_then(|_| conn.flush()).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
            let _ = conn.shutdown(Shutdown::Write);
        }
        Fault::EchoHeaders { status } => {
            let mut body = format!("{} {} HTTP/1.1\n", req.method, req.target);
            for (k, v) in &req.headers {
                body.push_str(&format!("{k}: {v}\n"));
            }
            let _ = conn.write_all(&head(status, &[], body.len()));
            let _ = conn.write_all(body.as_bytes());
            let _ = conn.flush();
            let _ = conn.shutdown(Shutdown::Write);
        }
        Fault::Forward | Fault::Upstream(_) => unreachable!("resolved above"),
    }
}
