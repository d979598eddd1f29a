//! The launcher's side of egress: receives sockets from the cell's netd, resolves and checks
//! each destination itself, and relays. One tokio task per connection, no thread per
//! connection. Every decision is logged with the profile, name, port, bytes and duration.

use super::addr::classify;
use super::netd::{MSG_CONNECT, MSG_DNS_DENIED, MSG_PROXY};
use super::sniff::{self, ProxyRequest, Sniff};
use super::EgressAllowlist;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a client may take to send the bytes we inspect (ClientHello, HTTP head).
const SNIFF_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most we buffer before deciding (a ClientHello or an HTTP head).
const SNIFF_LIMIT: usize = 16 * 1024;

/// The running proxy; dropping it stops every connection.
pub struct EgressProxy {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        // Don't wait for in-flight resolutions or relays: the cell is gone.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for EgressProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EgressProxy")
    }
}

struct Ctx {
    allow: EgressAllowlist,
    profile: String,
    audit: Option<Arc<crate::audit::AuditLog>>,
}

/// Start serving the cell's control socket on a small runtime of its own.
pub fn start(
    control: OwnedFd,
    allow: EgressAllowlist,
    profile: String,
    audit: Option<Arc<crate::audit::AuditLog>>,
) -> std::io::Result<EgressProxy> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        // Name lookups run on blocking threads: a burst of connections must not become a burst
        // of threads (they queue instead).
        .max_blocking_threads(2)
        .thread_name("mcpcell-egress")
        .enable_all()
        .build()?;
    let ctx = Arc::new(Ctx { allow, profile, audit });
    nix::fcntl::fcntl(control.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))
        .map_err(std::io::Error::from)?;
    let control = runtime.block_on(async {
        // SAFETY: AsyncFd owns `control` (an OwnedFd) for its whole life, so the fd stays open
        // and refers to the same socket until the AsyncFd is dropped.
        unsafe { AsyncFd::register(control) }.map_err(|e| e.into_parts().1)
    })?;
    runtime.spawn(accept_loop(control, ctx));
    Ok(EgressProxy { runtime: Some(runtime) })
}

async fn accept_loop(control: AsyncFd<OwnedFd>, ctx: Arc<Ctx>) {
    loop {
        let Ok(mut guard) = control.readable().await else { return };
        match guard.try_io(|fd| receive(fd.get_ref().as_raw_fd())) {
            Ok(Ok(Some((msg, Some(stream))))) => {
                let ctx = ctx.clone();
                tokio::spawn(async move { handle(ctx, msg, stream).await });
            }
            Ok(Ok(Some((msg, None)))) => {
                if msg.first() == Some(&MSG_DNS_DENIED) {
                    let name = String::from_utf8_lossy(msg.get(2..).unwrap_or_default());
                    tracing::info!(target: "mcpcell::egress", profile = %ctx.profile, host = %name, "dns denied (NXDOMAIN): not in the egress list");
                    if let Some(audit) = &ctx.audit {
                        audit.event(serde_json::json!({ "event": "egress", "decision": "denied", "host": name,
                                                        "reason": "dns: not in the egress list" }));
                    }
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => return, // the cell is gone
            Err(_would_block) => continue,
        }
    }
}

/// One datagram and the socket attached to it, if any.
fn receive(fd: RawFd) -> std::io::Result<Option<(Vec<u8>, Option<std::net::TcpStream>)>> {
    let mut buf = [0u8; 512];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg =
        recvmsg::<()>(fd, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).map_err(std::io::Error::from)?;
    let mut stream = None;
    for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the fd arrived by SCM_RIGHTS just now; nothing else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                if stream.is_none() {
                    stream = Some(std::net::TcpStream::from(owned));
                }
            }
        }
    }
    let n = msg.bytes;
    if n == 0 && stream.is_none() {
        return Ok(None);
    }
    Ok(Some((buf[..n].to_vec(), stream)))
}

async fn handle(ctx: Arc<Ctx>, msg: Vec<u8>, stream: std::net::TcpStream) {
    let started = Instant::now();
    let Ok(client) = stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream)) else { return };
    let outcome = match msg.first() {
        Some(&MSG_CONNECT) => match parse_connect(&msg) {
            Some((port, name)) => forward(&ctx, client, name, port, Vec::new()).await,
            None => Outcome::denied("?", 0, "malformed message from the cell".into()),
        },
        Some(&MSG_PROXY) => http_proxy(&ctx, client).await,
        _ => Outcome::denied("?", 0, "malformed message from the cell".into()),
    };
    outcome.log(&ctx.profile, started.elapsed());
    if let Some(audit) = &ctx.audit {
        audit.event(serde_json::json!({
            "event": "egress",
            "decision": if outcome.denied.is_some() { "denied" } else { "allowed" },
            "host": outcome.name, "port": outcome.port, "reason": outcome.denied,
            "bytes_up": outcome.up, "bytes_down": outcome.down,
            "duration_ms": started.elapsed().as_millis() as u64,
        }));
    }
}

fn parse_connect(msg: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(msg).ok()?;
    let mut parts = text.splitn(3, '\t');
    let (_, port, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some((port.parse().ok()?, name.to_string()))
}

struct Outcome {
    name: String,
    port: u16,
    denied: Option<String>,
    up: u64,
    down: u64,
}

impl Outcome {
    fn denied(name: &str, port: u16, why: String) -> Self {
        Outcome { name: name.into(), port, denied: Some(why), up: 0, down: 0 }
    }

    fn log(&self, profile: &str, took: Duration) {
        let ms = took.as_millis() as u64;
        match &self.denied {
            None => tracing::info!(
                target: "mcpcell::egress", profile, host = %self.name, port = self.port,
                bytes_up = self.up, bytes_down = self.down, ms, "egress allowed"
            ),
            Some(why) => tracing::warn!(
                target: "mcpcell::egress", profile, host = %self.name, port = self.port,
                bytes_up = self.up, bytes_down = self.down, ms, reason = %why, "egress denied"
            ),
        }
    }
}

/// Resolve `name` ourselves and connect, keeping only addresses the rule permits.
async fn open_upstream(ctx: &Ctx, name: &str, port: u16) -> Result<TcpStream, String> {
    let Some(rule) = ctx.allow.find(name, port) else {
        return Err("not in the profile's egress list".into());
    };
    let addrs: Vec<_> =
        tokio::net::lookup_host((name, port)).await.map_err(|e| format!("cannot resolve {name}: {e}"))?.collect();
    let mut refused = None;
    let mut last_err = None;
    for addr in addrs {
        let class = classify(addr.ip());
        if !class.is_public() && !rule.allow_private {
            refused = Some(format!(
                "{name} resolves to {} ({}); add allow_private = true to this egress entry to permit it",
                addr.ip(),
                class.describe()
            ));
            continue;
        }
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last_err = Some(format!("connecting to {addr}: {e}")),
            Err(_) => last_err = Some(format!("connecting to {addr}: timed out")),
        }
    }
    Err(last_err.or(refused).unwrap_or_else(|| format!("{name} has no address")))
}

/// A connection the cell opened to a synthetic address: check, connect, inspect, relay.
async fn forward(ctx: &Ctx, client: TcpStream, name: String, port: u16, initial: Vec<u8>) -> Outcome {
    match open_upstream(ctx, &name, port).await {
        Ok(upstream) => relay(client, upstream, name, port, initial).await,
        Err(why) => Outcome::denied(&name, port, why),
    }
}

/// Relay both ways. The server's bytes flow from the start (server-speaks-first protocols:
/// SMTP, IMAP, MySQL); the client's are inspected before any reaches the server: its first
/// bytes must not name another host (TLS SNI, HTTP Host), and on plain HTTP no later request
/// may either (see `http_gate`). A violation cuts the connection both ways at once.
async fn relay(mut client: TcpStream, mut upstream: TcpStream, name: String, port: u16, first: Vec<u8>) -> Outcome {
    let (mut up, mut down) = (0u64, 0u64);
    let (mut client_r, mut client_w) = client.split();
    let (mut upstream_r, mut upstream_w) = upstream.split();
    let denied = {
        let requests = client_side(&name, first, &mut client_r, &mut upstream_w, &mut up);
        let responses = splice_pump(&mut upstream_r, &mut client_w, &mut down);
        tokio::pin!(requests, responses);
        tokio::select! {
            verdict = &mut requests => match verdict {
                Err(why) => Some(why),
                Ok(()) => {
                    (&mut responses).await;
                    None
                }
            },
            () = &mut responses => requests.await.err(),
        }
    };
    Outcome { name, port, denied, up, down }
}

type ReadHalf<'a> = tokio::net::tcp::ReadHalf<'a>;
type WriteHalf<'a> = tokio::net::tcp::WriteHalf<'a>;

/// Client → upstream: inspect, then relay.
async fn client_side(
    name: &str,
    mut first: Vec<u8>,
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    count: &mut u64,
) -> Result<(), String> {
    // No deadline before the client's first byte (the server may be the one to speak); once
    // it has started, a half-sent ClientHello or head may not hold the connection open.
    let mut deadline = None;
    let verdict = loop {
        let verdict = if first.is_empty() { Sniff::NeedMore } else { sniff::client_hello(&first) };
        if verdict != Sniff::NeedMore || first.len() >= SNIFF_LIMIT {
            break verdict;
        }
        let mut chunk = [0u8; 4096];
        let read = match deadline {
            None => from.read(&mut chunk).await,
            Some(at) => tokio::time::timeout_at(at, from.read(&mut chunk))
                .await
                .map_err(|_| "the client stalled mid-handshake".to_string())?,
        };
        match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(n) => {
                first.extend_from_slice(&chunk[..n]);
                deadline.get_or_insert_with(|| tokio::time::Instant::now() + SNIFF_TIMEOUT);
            }
        }
    };
    match verdict {
        Sniff::Tls { sni: Some(sni) } if sni != name => {
            return Err(format!("the connection names another host ({sni})"));
        }
        Sniff::Unverifiable(what) => return Err(format!("cannot verify the destination: {what}")),
        Sniff::Http { .. } => {
            let mut gate = super::http_gate::HttpGate::new(name);
            return pump_http(&mut gate, first, from, to, count).await;
        }
        Sniff::Tls { .. } | Sniff::Other | Sniff::NeedMore => {}
    }
    if to.write_all(&first).await.is_err() {
        return Ok(());
    }
    *count += first.len() as u64;
    // Nothing more to inspect on this direction: move bytes in the kernel.
    splice_pump(from, to, count).await;
    Ok(())
}

/// Client → upstream on plain HTTP: every request head is checked before it is forwarded.
async fn pump_http(
    gate: &mut super::http_gate::HttpGate,
    first: Vec<u8>,
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    count: &mut u64,
) -> Result<(), String> {
    let mut data = first;
    loop {
        let allowed = gate.feed(&data)?;
        if !allowed.is_empty() {
            if to.write_all(&allowed).await.is_err() {
                return Ok(());
            }
            *count += allowed.len() as u64;
        }
        let mut chunk = vec![0u8; RELAY_BUFFER];
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(n) => {
                chunk.truncate(n);
                data = chunk;
            }
        }
    }
}

/// Copy one direction with splice(2) through a pipe: the bytes never enter user space. The
/// pipe exists only while data flows (idle connections hold none). Falls back to `pump` if
/// a pipe cannot be made (fd limit).
async fn splice_pump(from: &mut ReadHalf<'_>, to: &mut WriteHalf<'_>, count: &mut u64) {
    use nix::fcntl::{splice, SpliceFFlags};
    use tokio::io::Interest;
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let (src, dst): (&TcpStream, &TcpStream) = (from.as_ref(), to.as_ref());
    'idle: loop {
        if from.readable().await.is_err() {
            break;
        }
        let Ok((pipe_r, pipe_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
        else {
            return pump(from, to, count).await;
        };
        // A bigger pipe means fewer round trips; the kernel caps it (fs.pipe-max-size).
        let _ = nix::fcntl::fcntl(pipe_w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
        loop {
            let moved = src.try_io(Interest::READABLE, || {
                splice(src, None, &pipe_w, None, 1 << 20, flags).map_err(std::io::Error::from)
            });
            let n = match moved {
                Ok(0) => break 'idle,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue 'idle,
                Err(_) => break 'idle,
            };
            let mut left = n;
            while left > 0 {
                if to.as_ref().writable().await.is_err() {
                    break 'idle;
                }
                match dst.try_io(Interest::WRITABLE, || {
                    splice(&pipe_r, None, dst, None, left, flags).map_err(std::io::Error::from)
                }) {
                    Ok(m) => left -= m,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => break 'idle,
                }
            }
            *count += n as u64;
        }
    }
    let _ = to.shutdown().await;
}

/// Per-direction buffer while data flows. Idle connections hold none (see `pump`).
const RELAY_BUFFER: usize = 64 * 1024;

/// Copy one direction until EOF or an error, counting bytes (kept even when the peer resets),
/// then pass the EOF on. The buffer exists only while there is data to move, so hundreds of
/// idle connections cost next to nothing.
async fn pump(from: &mut ReadHalf<'_>, to: &mut WriteHalf<'_>, count: &mut u64) {
    'idle: loop {
        if from.readable().await.is_err() {
            break;
        }
        let mut buf = vec![0u8; RELAY_BUFFER];
        loop {
            match from.try_read(&mut buf) {
                Ok(0) => break 'idle,
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        break 'idle;
                    }
                    *count += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue 'idle,
                Err(_) => break 'idle,
            }
        }
    }
    let _ = to.shutdown().await;
}

/// A client of the in-cell HTTP proxy (HTTP_PROXY / HTTPS_PROXY): the same allowlist.
async fn http_proxy(ctx: &Ctx, mut client: TcpStream) -> Outcome {
    let deadline = tokio::time::Instant::now() + SNIFF_TIMEOUT;
    let mut head = Vec::new();
    let request = loop {
        match sniff::proxy_request(&head) {
            ProxyRequest::NeedMore if head.len() < SNIFF_LIMIT => {
                let mut chunk = [0u8; 4096];
                match tokio::time::timeout_at(deadline, client.read(&mut chunk)).await {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
                    _ => return Outcome::denied("?", 0, "incomplete proxy request".into()),
                }
            }
            ProxyRequest::NeedMore => break ProxyRequest::Invalid("request head too large".into()),
            other => break other,
        }
    };
    match request {
        ProxyRequest::Connect { host, port, header_len } => {
            if ctx.allow.find(&host, port).is_none() {
                let _ =
                    client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                return Outcome::denied(&host, port, "not in the profile's egress list (CONNECT)".into());
            }
            match open_upstream(ctx, &host, port).await {
                Ok(upstream) => {
                    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                        return Outcome::denied(&host, port, "client went away".into());
                    }
                    let rest = head.get(header_len..).unwrap_or_default().to_vec();
                    relay(client, upstream, host, port, rest).await
                }
                Err(why) => {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    Outcome::denied(&host, port, why)
                }
            }
        }
        ProxyRequest::Absolute { host, port } => {
            if ctx.allow.find(&host, port).is_none() {
                let _ =
                    client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                return Outcome::denied(&host, port, "not in the profile's egress list (proxy request)".into());
            }
            match open_upstream(ctx, &host, port).await {
                Ok(upstream) => relay(client, upstream, host, port, origin_form(&head)).await,
                Err(why) => {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    Outcome::denied(&host, port, why)
                }
            }
        }
        ProxyRequest::Invalid(why) => bad_request(client, why).await,
        ProxyRequest::NeedMore => bad_request(client, "incomplete request head".into()).await,
    }
}

async fn bad_request(mut client: TcpStream, why: String) -> Outcome {
    let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    Outcome::denied("?", 0, format!("bad proxy request: {why}"))
}

/// Rewrite an absolute-form request line (`GET http://host:port/path HTTP/1.1`) to origin form
/// (`GET /path HTTP/1.1`): we are the proxy, and many origin servers reject absolute form.
fn origin_form(head: &[u8]) -> Vec<u8> {
    let line_end = head.windows(2).position(|w| w == b"\r\n").unwrap_or(head.len());
    let line = &head[..line_end];
    let mut parts = line.splitn(3, |b| *b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return head.to_vec();
    };
    let after_scheme = target.windows(3).position(|w| w == b"://").map(|i| &target[i + 3..]).unwrap_or(target);
    let path = match after_scheme.iter().position(|b| *b == b'/') {
        Some(i) => &after_scheme[i..],
        None => b"/".as_slice(),
    };
    let mut out = Vec::with_capacity(head.len());
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(path);
    out.push(b' ');
    out.extend_from_slice(version);
    out.extend_from_slice(&head[line_end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    #[test]
    fn absolute_form_becomes_origin_form() {
        let head = b"GET http://allowed.test:8080/a/b?c=1 HTTP/1.1\r\nHost: allowed.test:8080\r\n\r\n";
        assert_eq!(origin_form(head), b"GET /a/b?c=1 HTTP/1.1\r\nHost: allowed.test:8080\r\n\r\n".to_vec());
        let bare = b"GET http://allowed.test HTTP/1.1\r\n\r\n";
        assert_eq!(origin_form(bare), b"GET / HTTP/1.1\r\n\r\n".to_vec());
    }
}
