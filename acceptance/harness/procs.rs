//! The process table of the harness: every server process it starts ([`ServerProc`]), the
//! free-port allocator, and [`stop_all_live`], which `main` calls however the run ends.
//!
//! Every process is started with `PR_SET_PDEATHSIG` (it dies with the thread that spawned it) and
//! stays registered in a process-wide table until it is stopped, so nothing outlives the run.
//!
//! Servers bind a loopback address: [`LOOPBACK`] today. Linux routes all of 127.0.0.0/8 to `lo`,
//! so a second host ([`LOOPBACK2`], for cross-host cases such as redirects and credentials sent
//! to another host) needs no setup: pass it to [`free_port_on`] and [`ServerProc::on`]; the test
//! certificate already names it.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{redact, TestResult};

/// The address every server binds today.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// A second loopback host (no setup needed on Linux): room for cross-host cases.
pub const LOOPBACK2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

static LIVE: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
static PORTS: Mutex<Option<HashSet<(IpAddr, u16)>>> = Mutex::new(None);

/// Stops (SIGTERM, then SIGKILL after 3 s) every server process still registered. Returns their names.
pub fn stop_all_live() -> Vec<String> {
    let live: Vec<(u32, String)> =
        std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect();
    for (pid, _) in &live {
        // SAFETY: plain kill(2); the PID is one of our unreaped children (a reaped child is
        // always removed from LIVE before it is waited for), so it cannot have been reused.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    for (pid, _) in &live {
        loop {
            let mut status = 0;
            // SAFETY: waitpid on our own child.
            let r = unsafe { libc::waitpid(*pid as libc::pid_t, &mut status, libc::WNOHANG) };
            if r != 0 {
                break; // reaped (or not our child any more)
            }
            if Instant::now() > deadline {
                // SAFETY: as above.
                unsafe {
                    libc::kill(*pid as libc::pid_t, libc::SIGKILL);
                    libc::waitpid(*pid as libc::pid_t, &mut status, 0);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    live.into_iter().map(|(p, n)| format!("{n}({p})")).collect()
}

/// A free TCP port on 127.0.0.1, never handed out twice in this process.
pub fn free_port() -> u16 {
    free_port_on(LOOPBACK)
}

/// A free TCP port on `ip` (a loopback address), never handed out twice in this process.
pub fn free_port_on(ip: IpAddr) -> u16 {
    let mut guard = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let used = guard.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("bind {ip}:0: {e}"));
        if used.insert((ip, port)) {
            return port;
        }
    }
    panic!("no free port found on {ip}");
}

/// Waits (≤ 30 s) until `ip:port` accepts connections.
pub fn wait_port(ip: IpAddr, port: u16, what: &str) -> TestResult {
    let addr = SocketAddr::new(ip, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} does not listen on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

/// The last `lines` lines of a log file (at most its last 64 KiB), redacted.
pub fn tail_of(path: &Path, lines: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    let all: Vec<&str> = s.lines().collect();
    redact(&all[all.len().saturating_sub(lines)..].join("\n"))
}

/// One server process listening on a known port; restartable with the same command line.
pub struct ServerProc {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    log: PathBuf,
    bind: IpAddr,
    port: u16,
    child: Option<Child>,
}

impl ServerProc {
    /// A process that will listen on 127.0.0.1:`port` (see [`ServerProc::on`]); its output goes to `log`.
    pub fn new(
        name: &str,
        program: impl Into<PathBuf>,
        args: &[&dyn AsRef<std::ffi::OsStr>],
        log: PathBuf,
        port: u16,
    ) -> ServerProc {
        ServerProc {
            name: name.to_string(),
            program: program.into(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            envs: Vec::new(),
            log,
            bind: LOOPBACK,
            port,
            child: None,
        }
    }

    /// The address the process listens on (what readiness and stop wait for).
    pub fn on(mut self, ip: IpAddr) -> Self {
        self.bind = ip;
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<OsString>) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn bind(&self) -> IpAddr {
        self.bind
    }
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Spawns the process (log appended to `log`) without waiting for its port.
    pub fn spawn(&mut self) -> TestResult {
        if self.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut lock = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start {} ({}): {e}",
                self.name,
                self.program.display()
            )
        })?;
        lock.insert(child.id(), self.name.clone());
        self.child = Some(child);
        Ok(())
    }

    /// Waits (≤ 30 s) until the port accepts connections; fails with the log tail if the process exits.
    pub fn wait_ready(&mut self) -> TestResult {
        let addr = SocketAddr::new(self.bind, self.port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(format!("{} is not running", self.name));
            };
            if let Ok(Some(status)) = child.try_wait() {
                let pid = child.id();
                LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
                self.child = None;
                return Err(format!(
                    "{} exited ({status}) before listening on {addr}; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(30)
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let tail = self.log_tail(30);
                self.stop();
                return Err(format!(
                    "{} did not listen on {addr} within 30 s; log {}:\n{tail}",
                    self.name,
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Spawns and waits until it listens.
    pub fn start(&mut self) -> TestResult {
        self.spawn()?;
        self.wait_ready()
    }

    /// SIGTERM, wait ≤ 5 s, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
        if let Ok(None) = child.try_wait() {
            // SAFETY: kill(2) on our unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = child.wait();
        // wait until the port is free again, so that a restart can bind it
        let addr = SocketAddr::new(self.bind, self.port);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Last `lines` lines of the log (redacted).
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log, lines)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}
