//! Serving the provider. tf-provider binds its listening socket without TCP_NODELAY, and Linux
//! copies that option from a listening socket to the sockets it accepts, so every gRPC answer
//! waits on Nagle + delayed ACK (~40 ms per RPC). We set TCP_NODELAY on the listener before
//! Terraform can connect: stdout is routed through a pipe, and the handshake line (which names
//! the listening port) is held back until the option is set.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};

use tf_provider::DynamicProvider;

/// Set TCP_NODELAY on every listening TCP socket of this process bound to `port`.
fn set_nodelay_on_listener(port: u16) -> usize {
    let mut done = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    for entry in dir.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<RawFd>() else {
            continue;
        };
        // SAFETY: plain socket syscalls on a descriptor we only inspect; failures are ignored.
        unsafe {
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
                continue;
            }
            let p = match addr.ss_family as i32 {
                libc::AF_INET => {
                    u16::from_be((*(&addr as *const _ as *const libc::sockaddr_in)).sin_port)
                }
                libc::AF_INET6 => {
                    u16::from_be((*(&addr as *const _ as *const libc::sockaddr_in6)).sin6_port)
                }
                _ => continue,
            };
            if p != port {
                continue;
            }
            let one: libc::c_int = 1;
            if libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
            {
                done += 1;
            }
        }
    }
    done
}

/// Port named in a go-plugin handshake line `1|6|tcp|127.0.0.1:PORT|grpc|CERT`.
pub fn handshake_port(line: &str) -> Option<u16> {
    let addr = line.split('|').nth(3)?;
    addr.rsplit_once(':')?.1.parse().ok()
}

/// Route stdout through a pipe; a thread sets TCP_NODELAY once the handshake names the port,
/// then forwards the line (and anything after it) to the real stdout.
fn intercept_handshake() -> std::io::Result<()> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe/dup/dup2 on fresh descriptors before any other thread writes to stdout.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let real = libc::dup(1);
        if real < 0 || libc::dup2(fds[1], 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::close(fds[1]);
        let reader = std::fs::File::from_raw_fd(fds[0]);
        let mut real_out = std::fs::File::from_raw_fd(real);
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut line = String::new();
            let mut first = true;
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if first {
                    first = false;
                    if let Some(port) = handshake_port(&line) {
                        let n = set_nodelay_on_listener(port);
                        tracing::debug!(
                            port,
                            sockets = n,
                            "TCP_NODELAY set on the plugin listener"
                        );
                    }
                }
                let _ = real_out.write_all(line.as_bytes());
                let _ = real_out.flush();
                line.clear();
            }
        });
    }
    Ok(())
}

/// Serve `provider` as `name` over plugin protocol 6.
pub async fn serve(name: &str, provider: Box<dyn DynamicProvider>) -> anyhow::Result<()> {
    // CHARTREG_PLUGIN_NODELAY=0 serves without the fix, to measure what it is worth.
    if std::env::var("CHARTREG_PLUGIN_NODELAY").as_deref() == Ok("0") {
        return tf_provider::serve_dynamic(name.to_string(), provider).await;
    }
    if let Err(e) = intercept_handshake() {
        tracing::warn!(error = %e, "cannot intercept the handshake; serving without TCP_NODELAY");
    }
    tf_provider::serve_dynamic(name.to_string(), provider).await
}

#[cfg(test)]
mod tests {
    use std::os::fd::RawFd;

    #[test]
    fn sets_nodelay_on_the_listener_and_accepted_sockets_inherit_it() {
        use std::os::fd::AsRawFd;
        let nodelay = |fd: RawFd| -> i32 {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt into a local int.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    &mut v as *mut _ as *mut libc::c_void,
                    &mut len,
                )
            };
            v
        };
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(nodelay(l.as_raw_fd()), 0);
        assert!(super::set_nodelay_on_listener(port) >= 1);
        assert_ne!(nodelay(l.as_raw_fd()), 0);
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (a, _) = l.accept().unwrap();
        assert_ne!(
            nodelay(a.as_raw_fd()),
            0,
            "accepted socket inherits TCP_NODELAY"
        );
    }

    #[test]
    fn parses_handshake() {
        assert_eq!(
            super::handshake_port("1|6|tcp|127.0.0.1:40123|grpc|MIIB\n"),
            Some(40123)
        );
        assert_eq!(super::handshake_port("garbage"), None);
    }
}
