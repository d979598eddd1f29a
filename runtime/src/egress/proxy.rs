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
}

/// Start serving the cell's control socket on a small runtime of its own.
pub fn start(control: OwnedFd, allow: EgressAllowlist, profile: String) -> std::io::Result<EgressProxy> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mcpcell-egress")
        .enable_all()
        .build()?;
    let ctx = Arc::new(Ctx { allow, profile });
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

/// Relay both ways; the client's first bytes must not name another host (TLS SNI, HTTP Host),
/// and on plain HTTP no later request may either (see `http_gate`).
async fn relay(mut client: TcpStream, mut upstream: TcpStream, name: String, port: u16, mut first: Vec<u8>) -> Outcome {
    let deadline = tokio::time::Instant::now() + SNIFF_TIMEOUT;
    let mut plain_http = false;
    loop {
        let verdict = if first.is_empty() { Sniff::NeedMore } else { sniff::client_hello(&first) };
        let claimed = match verdict {
            Sniff::NeedMore if first.len() < SNIFF_LIMIT => {
                let mut chunk = [0u8; 4096];
                match tokio::time::timeout_at(deadline, client.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Outcome { name, port, denied: None, up: 0, down: 0 },
                    Ok(Ok(n)) => {
                        first.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    // A server-speaks-first protocol: nothing to inspect, relay as is.
                    Err(_) if first.is_empty() => None,
                    Err(_) => return Outcome::denied(&name, port, "the client stalled mid-handshake".into()),
                }
            }
            Sniff::Tls { sni } => sni,
            Sniff::Http { .. } => {
                plain_http = true;
                None
            }
            Sniff::Unverifiable(what) => {
                return Outcome::denied(&name, port, format!("cannot verify the destination: {what}"))
            }
            Sniff::NeedMore | Sniff::Other => None,
        };
        if let Some(claimed) = claimed {
            if !claimed.eq_ignore_ascii_case(&name) {
                return Outcome::denied(&name, port, format!("the connection names another host ({claimed})"));
            }
        }
        break;
    }
    let (mut up, mut down) = (0u64, 0u64);
    let (mut client_r, mut client_w) = client.split();
    let (mut upstream_r, mut upstream_w) = upstream.split();
    let denied = if plain_http {
        let mut gate = super::http_gate::HttpGate::new(&name);
        let requests = pump_http(&mut gate, first, &mut client_r, &mut upstream_w, &mut up);
        let responses = pump(&mut upstream_r, &mut client_w, &mut down);
        tokio::pin!(requests, responses);
        // A violation cuts the connection at once, whatever the upstream is doing.
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
    } else {
        let sent = !first.is_empty() && upstream_w.write_all(&first).await.is_ok();
        if sent {
            up += first.len() as u64;
        }
        tokio::join!(pump(&mut client_r, &mut upstream_w, &mut up), pump(&mut upstream_r, &mut client_w, &mut down));
        None
    };
    Outcome { name, port, denied, up, down }
}

/// Client → upstream on plain HTTP: every request head is checked before it is forwarded.
/// On a violation the connection is cut both ways (dropping the halves closes the sockets).
async fn pump_http<R, W>(
    gate: &mut super::http_gate::HttpGate,
    first: Vec<u8>,
    from: &mut R,
    to: &mut W,
    count: &mut u64,
) -> Result<(), String>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut data = first;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let allowed = gate.feed(&data)?;
        if !allowed.is_empty() {
            if to.write_all(&allowed).await.is_err() {
                return Ok(());
            }
            *count += allowed.len() as u64;
        }
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(n) => data = buf[..n].to_vec(),
        }
    }
}

/// Copy one direction until EOF or an error, counting bytes (kept even when the peer resets),
/// then pass the EOF on.
async fn pump<R, W>(from: &mut R, to: &mut W, count: &mut u64)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                *count += n as u64;
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
