//! Egress by hostname (issue 3): a cell granted `allowed.egress.test:PORT` reaches exactly that
//! host and port, whatever the program (the probe's getaddrinfo + raw TCP, Python raw sockets,
//! Node's fetch, curl without a proxy), and nothing else: not another name, not another port, not
//! a raw IP, not IPv6, not UDP, no DNS answer (or query leaving the machine) for an unlisted
//! name, no CONNECT to an unlisted host, no Host header or TLS SNI naming another host, no private
//! destination without the explicit opt-in. Every denial stands next to its positive control.
//!
//! The test hosts are local: scripts/test adds `127.0.0.2 allowed.egress.test` and
//! `127.0.0.3 other.egress.test` to the host's /etc/hosts, and each test starts its own servers
//! on those addresses (same port on both), which record every connection and every byte they
//! receive, so that "nothing reached the host" is observed, not inferred from a client error.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ALLOWED: &str = "allowed.egress.test";
const OTHER: &str = "other.egress.test";
const ALLOWED_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// The in-cell HTTP proxy.
const PROXY: &str = "127.0.0.1:3128";
/// How long a denial is given to show up at a host server anyway before the test concludes that
/// nothing arrived.
const GRACE: Duration = Duration::from_millis(500);

// ============================================================================== test host servers

/// What one accepted connection delivered (bytes are appended as they arrive).
#[derive(Clone, Debug)]
struct Conn {
    peer: SocketAddr,
    bytes: Vec<u8>,
}

/// Every connection a host server accepted, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Conn>>>);

impl Log {
    fn take(&self) -> Vec<Conn> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    fn snapshot(&self) -> Vec<Conn> {
        self.0.lock().unwrap().clone()
    }
    fn show(conns: &[Conn]) -> String {
        conns
            .iter()
            .map(|c| format!("\n    from {}: {:?}", c.peer, String::from_utf8_lossy(&c.bytes)))
            .collect::<String>()
    }
}

/// Fails if the server accepted any connection (after a grace period), then clears the log.
#[track_caller]
fn assert_no_connection(log: &Log, server: &str, what: &str) {
    std::thread::sleep(GRACE);
    let conns = log.take();
    assert!(
        conns.is_empty(),
        "ESCAPE: {what}: the host server {server} accepted {} connection(s):{}",
        conns.len(),
        Log::show(&conns)
    );
}

/// Fails if any byte reached the server (after a grace period), then clears the log. A connection
/// that carried nothing is tolerated (a proxy may open the upstream connection before it has read
/// the client's first bytes), but the client's bytes must not cross.
#[track_caller]
fn assert_no_bytes(log: &Log, server: &str, what: &str) {
    std::thread::sleep(GRACE);
    let conns = log.take();
    assert!(
        conns.iter().all(|c| c.bytes.is_empty()),
        "ESCAPE: {what}: bytes reached the host server {server}:{}",
        Log::show(&conns)
    );
}

/// Waits until the server has recorded a connection whose bytes satisfy `f`; returns all of them.
#[track_caller]
fn assert_received(log: &Log, server: &str, what: &str, f: impl Fn(&[u8]) -> bool) -> Vec<Conn> {
    let ok = eventually(Duration::from_secs(5), || log.snapshot().iter().any(|c| f(&c.bytes)));
    let conns = log.take();
    assert!(ok, "positive control failed: {what}: the host server {server} did not receive it:{}", Log::show(&conns));
    conns
}

/// A TCP server on the host that records each connection and answers: an HTTP request with
/// `200` and a body naming the server and echoing the Host header and path it saw; a TLS record
/// with one plain-text line saying how many bytes arrived; anything else with a line too.
fn serve_tcp(listener: TcpListener, name: &'static str) -> Log {
    let log = Log::default();
    let l2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = l2.clone();
            std::thread::spawn(move || handle(stream, name, log));
        }
    });
    log
}

fn handle(mut s: TcpStream, name: &str, log: Log) {
    let peer = s.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let idx = {
        let mut v = log.0.lock().unwrap();
        v.push(Conn { peer, bytes: Vec::new() });
        v.len() - 1
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let complete_http = got.windows(4).any(|w| w == b"\r\n\r\n");
        let complete_tls = got.first() == Some(&0x16)
            && got.len() >= 5
            && got.len() >= 5 + u16::from_be_bytes([got[3], got[4]]) as usize;
        if complete_http || complete_tls || got.len() > 65536 {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                // The log index stays valid: tests only take() after the connection is over or
                // when asserting that nothing arrived.
                if let Some(c) = log.0.lock().unwrap().get_mut(idx) {
                    c.bytes = got.clone();
                }
            }
        }
    }
    if got.is_empty() {
        return;
    }
    let reply = if got.first() == Some(&0x16) {
        format!("server {name} got a TLS record of {} bytes\n", got.len())
    } else if got.windows(4).any(|w| w == b"\r\n\r\n") {
        let text = String::from_utf8_lossy(&got);
        let path = text.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?").to_string();
        let host = text
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.trim()))
            .unwrap_or("<none>")
            .to_string();
        let body = format!("served-by={name} host-header={host} path={path}\n");
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        format!("server {name} got {} bytes\n", got.len())
    };
    let _ = s.write_all(reply.as_bytes());
}

/// A UDP receiver on the host that records each datagram and echoes it.
fn serve_udp(sock: UdpSocket) -> Log {
    let log = Log::default();
    let l2 = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            l2.0.lock().unwrap().push(Conn { peer: from, bytes: buf[..n].to_vec() });
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    log
}

/// The two test hosts, serving HTTP on the same port.
struct Hosts {
    port: u16,
    allowed: Log,
    other: Log,
}

impl Hosts {
    fn p(&self) -> String {
        self.port.to_string()
    }
    /// `allowed.egress.test:PORT`, the grant.
    fn grant(&self) -> String {
        format!("{ALLOWED}:{}", self.port)
    }
}

/// Checks that the host resolves the test names to their loopback aliases (scripts/test adds
/// them to /etc/hosts), so that no test ever sends a DNS query for them off the machine.
fn require_test_hosts() {
    for (name, ip) in [(ALLOWED, ALLOWED_IP), (OTHER, OTHER_IP)] {
        let got: Vec<IpAddr> = (name, 1u16).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
        assert!(
            got.contains(&IpAddr::V4(ip)),
            "the host does not resolve {name} to {ip} (it gives {got:?}): run scripts/test as root, which \
             adds `{ip} {name}` to /etc/hosts, or add that line yourself"
        );
    }
}

/// Starts HTTP servers on 127.0.0.2:P (allowed.egress.test) and 127.0.0.3:P (other.egress.test)
/// for a free port P shared by both.
fn hosts() -> Hosts {
    require_test_hosts();
    for _ in 0..50 {
        let a = TcpListener::bind((ALLOWED_IP, 0)).expect("bind 127.0.0.2:0 on the host");
        let port = a.local_addr().unwrap().port();
        let Ok(o) = TcpListener::bind((OTHER_IP, port)) else { continue };
        return Hosts { port, allowed: serve_tcp(a, ALLOWED), other: serve_tcp(o, OTHER) };
    }
    panic!("found no port free on both 127.0.0.2 and 127.0.0.3");
}

/// A cell granted `allowed.egress.test:PORT` with the private-address opt-in (the test host is
/// on loopback).
fn egress_cell(h: &Hosts) -> Cell {
    cell().flag("--allow-private-host", h.grant())
}

// ======================================================================================= helpers

#[track_caller]
fn assert_served_by(out: &Out, server: &str, host_header: &str) {
    let want = format!("served-by={server} host-header={host_header} ");
    assert!(
        out.stdout().contains(&want),
        "the response does not come from {server} (want {want:?}):{}",
        out.describe()
    );
}

/// The control every test leans on: the probe in the cell reaches the allowed host by name.
#[track_caller]
fn control_probe_reaches_allowed(c: &Cell, h: &Hosts) -> Out {
    let out = c.probe(&["http-get", ALLOWED, &h.p(), "/control"]);
    assert_allowed(&out, "GET http://allowed.egress.test:PORT/ from the cell granted it");
    assert_served_by(&out, ALLOWED, &h.grant());
    assert_received(&h.allowed, ALLOWED, "the cell's GET", |b| b.starts_with(b"GET "));
    out
}

/// The synthetic address the cell's DNS gives the allowed name (127.100.0.0/16).
fn synthetic_address(c: &Cell) -> Ipv4Addr {
    let out = c.probe(&["resolve", ALLOWED, "inet"]);
    assert_allowed(&out, "resolving the allowed name in the cell");
    let addrs: Vec<Ipv4Addr> = out.data().iter().filter_map(|l| l.parse().ok()).collect();
    assert!(
        addrs.len() == 1 && addrs[0].octets()[..2] == [127, 100],
        "the allowed name must resolve to one synthetic address in 127.100.0.0/16:{}",
        out.describe()
    );
    addrs[0]
}

// ============================================================================= allowed, by name

#[test]
fn probe_reaches_the_allowed_host_by_name() {
    let h = hosts();
    // Control on the host: the name leads to the host server directly.
    let out = host_probe(&["http-get", ALLOWED, &h.p(), "/from-host"]);
    assert_allowed(&out, "GET http://allowed.egress.test:PORT/ on the host");
    assert_served_by(&out, ALLOWED, &h.grant());
    h.allowed.take();

    let c = egress_cell(&h);
    let out = control_probe_reaches_allowed(&c, &h);
    // It got there through the cell's synthetic address, not a route to 127.0.0.2.
    assert!(
        out.data().iter().any(|l| l.starts_with("connected: 127.100.")),
        "the probe did not connect to a synthetic 127.100.x.y address:{}",
        out.describe()
    );
}

const PY_RAW: &str = r#"
import socket, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    print(f"DENIED: python raw socket to {host}:{port}: {type(e).__name__}: {e}")
    sys.exit(1)
if not data:
    print(f"DENIED: python raw socket to {host}:{port}: closed with no data")
    sys.exit(1)
print(f"ALLOWED: python raw socket to {host}:{port}")
print(data.decode(errors="replace"))
"#;

#[test]
fn python_raw_socket_reaches_only_the_allowed_host() {
    let h = hosts();
    let c = egress_cell(&h);
    let out = c.run("/usr/bin/python3", &["-c", PY_RAW, ALLOWED, &h.p(), "/python"], None);
    assert_allowed(&out, "Python raw socket to the allowed host by name");
    assert_served_by(&out, ALLOWED, &h.grant());

    let out = c.run("/usr/bin/python3", &["-c", PY_RAW, OTHER, &h.p(), "/python"], None);
    assert_denied(&out, "Python raw socket to other.egress.test (not granted)");
    assert_no_connection(&h.other, OTHER, "Python raw socket to other.egress.test");
}

const NODE_FETCH: &str = r#"
const url = process.argv[1];
fetch(url)
  .then(async (r) => {
    const body = await r.text();
    console.log(`${r.ok ? "ALLOWED" : "DENIED"}: node fetch ${url}: ${r.status}`);
    console.log(body);
    process.exit(r.ok ? 0 : 1);
  })
  .catch((e) => {
    console.log(`DENIED: node fetch ${url}: ${e} ${e.cause ?? ""}`);
    process.exit(1);
  });
"#;

#[test]
fn node_fetch_reaches_only_the_allowed_host() {
    let h = hosts();
    let c = egress_cell(&h);
    // Node 20's fetch (undici) ignores HTTP_PROXY: it resolves and connects by itself.
    let url = format!("http://{ALLOWED}:{}/node", h.port);
    let out = c.run("/usr/bin/node", &["-e", NODE_FETCH, &url], None);
    assert_allowed(&out, "Node fetch of the allowed host");
    assert_served_by(&out, ALLOWED, &h.grant());

    let url = format!("http://{OTHER}:{}/node", h.port);
    let out = c.run("/usr/bin/node", &["-e", NODE_FETCH, &url], None);
    assert_denied(&out, "Node fetch of other.egress.test (not granted)");
    assert_no_connection(&h.other, OTHER, "Node fetch of other.egress.test");
}

fn curl() -> &'static str {
    let p = "/usr/bin/curl";
    assert!(
        std::path::Path::new(p).is_file(),
        "{p} is missing: the egress tests need curl (apt-get install curl) to test a real client \
         with and without the proxy variables"
    );
    p
}

#[test]
fn curl_without_proxy_reaches_only_the_allowed_host() {
    let h = hosts();
    let c = egress_cell(&h);
    let url = format!("http://{ALLOWED}:{}/curl", h.port);
    let out = c.run(curl(), &["--noproxy", "*", "-sS", "-m", "10", &url], None);
    assert_code(&out, 0, "curl --noproxy '*' to the allowed host");
    assert_served_by(&out, ALLOWED, &h.grant());

    let url = format!("http://{OTHER}:{}/curl", h.port);
    let out = c.run(curl(), &["--noproxy", "*", "-sS", "-m", "10", &url], None);
    assert_ne!(out.code(), 0, "ESCAPE: curl --noproxy '*' to other.egress.test succeeded:{}", out.describe());
    assert!(!out.stdout().contains("served-by="), "ESCAPE: a host server answered:{}", out.describe());
    assert_no_connection(&h.other, OTHER, "curl --noproxy '*' to other.egress.test");
}

#[test]
fn curl_with_the_proxy_variables_reaches_only_the_allowed_host() {
    let h = hosts();
    let c = egress_cell(&h);
    let fmt = "\nHTTP_CODE=%{http_code}\n";
    let url = format!("http://{ALLOWED}:{}/curl-proxied", h.port);
    let out = c.run(curl(), &["-sS", "-m", "10", "-w", fmt, &url], None);
    assert_code(&out, 0, "curl (through $HTTP_PROXY) to the allowed host");
    assert!(out.stdout().contains("HTTP_CODE=200"), "curl through the proxy did not get 200:{}", out.describe());
    assert_served_by(&out, ALLOWED, &h.grant());

    let url = format!("http://{OTHER}:{}/curl-proxied", h.port);
    let out = c.run(curl(), &["-sS", "-m", "10", "-w", fmt, &url], None);
    assert!(
        !out.stdout().contains("served-by=") && !out.stdout().contains("HTTP_CODE=200"),
        "ESCAPE: curl through the proxy reached other.egress.test:{}",
        out.describe()
    );
    assert!(
        out.stdout().contains("HTTP_CODE=403"),
        "the in-cell proxy must answer 403 for an unlisted host:{}",
        out.describe()
    );
    assert_no_connection(&h.other, OTHER, "curl through the proxy to other.egress.test");
}

// ====================================================================================== denials

#[test]
fn another_host_by_name_is_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    let out = c.probe(&["http-get", OTHER, &h.p(), "/"]);
    assert_denied(&out, "GET http://other.egress.test:PORT/ from a cell granted only allowed.egress.test");
    assert_no_connection(&h.other, OTHER, "the probe's GET to other.egress.test");
    // Controls: the other host is up and reachable from the host; the cell reaches the allowed one.
    let out = host_probe(&["http-get", OTHER, &h.p(), "/"]);
    assert_allowed(&out, "GET http://other.egress.test:PORT/ on the host");
    assert_served_by(&out, OTHER, &format!("{OTHER}:{}", h.port));
    control_probe_reaches_allowed(&c, &h);
}

#[test]
fn the_allowed_host_on_another_port_is_denied() {
    let h = hosts();
    let l = TcpListener::bind((ALLOWED_IP, 0)).unwrap();
    let q = l.local_addr().unwrap().port().to_string();
    let log = serve_tcp(l, "allowed.egress.test-on-another-port");
    let c = egress_cell(&h);
    let out = c.probe(&["http-get", ALLOWED, &q, "/"]);
    assert_denied(&out, "GET the allowed host on a port that is not granted");
    assert_no_connection(&log, "127.0.0.2:Q", "GET the allowed host on another port");
    // Controls: that server answers on the host; the granted port works from the cell.
    assert_allowed(&host_probe(&["http-get", ALLOWED, &q, "/"]), "GET 127.0.0.2:Q on the host");
    control_probe_reaches_allowed(&c, &h);
}

#[test]
fn raw_ip_addresses_are_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    let synthetic = synthetic_address(&c);
    let mut unassigned = synthetic.octets();
    unassigned[3] ^= 1;
    let unassigned = Ipv4Addr::from(unassigned).to_string();
    // The cell's 127.0.0.0/8 is its own loopback: the forwarder listens on 0.0.0.0:PORT there,
    // so these may be accepted, but must be closed without reaching any host.
    for (ip, why) in [
        ("127.0.0.2", "the allowed host's own IP"),
        ("127.0.0.3", "the other host's IP"),
        ("127.0.0.1", "the cell's loopback on the granted port"),
        (unassigned.as_str(), "an unassigned synthetic address"),
        ("::ffff:127.0.0.2", "the allowed host's IP, IPv4-mapped"),
    ] {
        let out = c.probe(&["http-get", ip, &h.p(), "/raw-ip"]);
        assert_denied(&out, &format!("GET http://{ip}:PORT/ ({why})"));
    }
    assert_no_connection(&h.allowed, ALLOWED, "raw-IP connections from the cell");
    assert_no_connection(&h.other, OTHER, "raw-IP connections from the cell");
    // Controls: the raw IP works on the host; the synthetic address the cell's DNS handed out is
    // the one way in, and it works (it is what the name means inside the cell).
    assert_allowed(
        &host_probe(&["http-get", "127.0.0.2", &h.p(), "/raw-ip"]),
        "GET http://127.0.0.2:PORT/ on the host",
    );
    h.allowed.take();
    let out = c.probe(&["http-get", &synthetic.to_string(), &h.p(), "/synthetic", &h.grant()]);
    assert_allowed(&out, "GET to the synthetic address with the allowed Host header");
    assert_served_by(&out, ALLOWED, &h.grant());
}

#[test]
fn ipv6_is_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    // AAAA for the allowed name: no address.
    let out = c.probe(&["resolve", ALLOWED, "inet6"]);
    assert_denied(&out, "an AAAA lookup of the allowed name in the cell");
    // A listener on the host's ::1: unreachable from the cell.
    let l = match TcpListener::bind(("::1", h.port)).or_else(|_| TcpListener::bind(("::1", 0))) {
        Ok(l) => l,
        Err(e) => panic!("cannot bind [::1] on the host for the IPv6 control ({e}): is IPv6 disabled?"),
    };
    let p6 = l.local_addr().unwrap().port().to_string();
    let log = serve_tcp(l, "host-ipv6-loopback");
    let out = c.probe(&["http-get", "::1", &p6, "/v6"]);
    assert_denied(&out, "GET http://[::1]:PORT/ (a listener on the host's IPv6 loopback)");
    assert_no_connection(&log, "[::1]", "GET to the host's [::1]");
    // Controls: the host reaches its [::1] listener; the A lookup in the cell works.
    assert_allowed(&host_probe(&["http-get", "::1", &p6, "/v6"]), "GET http://[::1]:PORT/ on the host");
    synthetic_address(&c);
}

#[test]
fn udp_is_denied() {
    let h = hosts();
    let log = serve_udp(UdpSocket::bind((ALLOWED_IP, h.port)).expect("bind UDP 127.0.0.2:PORT on the host"));
    let c = egress_cell(&h);
    for target in [format!("{ALLOWED}:{}", h.port), format!("127.0.0.2:{}", h.port)] {
        let out = c.probe(&["udp-echo", &target]);
        assert_denied(&out, &format!("a UDP round trip to {target} from the cell"));
    }
    assert_no_connection(&log, "UDP 127.0.0.2:PORT", "UDP datagrams from the cell");
    // Control: the host's own datagram arrives and is echoed.
    let out = host_probe(&["udp-echo", &format!("127.0.0.2:{}", h.port)]);
    assert_allowed(&out, "a UDP round trip to 127.0.0.2:PORT on the host");
    assert_received(&log, "UDP 127.0.0.2:PORT", "the host's datagram", |b| b == b"mcpcell-probe-ping");
}

// ========================================================================================== DNS

/// Watches every network interface of the host (AF_PACKET; the tests run as root) for frames
/// containing any of the needles: proves that a name looked up in the cell produced no DNS query
/// (or any other packet) on the host, e.g. to the host's resolver.
struct Sniffer {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sniffer {
    fn start(needles: Vec<Vec<u8>>) -> Sniffer {
        let proto = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
        // SAFETY: socket() takes plain integers and returns a new fd or -1.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
        assert!(
            fd >= 0,
            "cannot open an AF_PACKET socket to watch for DNS queries ({}): the tests run as root",
            std::io::Error::last_os_error()
        );
        let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
        // SAFETY: `tv` is a live timeval and its size is passed; `fd` is ours.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (st, se) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !st.load(Ordering::SeqCst) {
                // SAFETY: `buf` is a live buffer of buf.len() bytes; `fd` is ours until closed below.
                let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
                if n <= 0 {
                    continue;
                }
                let frame = &buf[..n as usize];
                for nd in &needles {
                    if frame.windows(nd.len()).any(|w| w == nd.as_slice()) {
                        se.lock().unwrap().push(nd.clone());
                    }
                }
            }
            // SAFETY: closes the fd opened above, used by no one else.
            unsafe { libc::close(fd) };
        });
        Sniffer { stop, seen, thread: Some(thread) }
    }
    fn saw(&self, needle: &[u8]) -> bool {
        self.seen.lock().unwrap().iter().any(|n| n == needle)
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A DNS label nobody else uses.
fn unique_label(tag: &str) -> String {
    unique(tag).chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase()
}

#[test]
fn dns_answers_only_allowed_names_and_never_forwards() {
    let h = hosts();
    let c = egress_cell(&h);
    let leak = unique_label("leak");
    let canary = unique_label("sniffcontrol");
    let sniffer = Sniffer::start(vec![leak.as_bytes().to_vec(), canary.as_bytes().to_vec()]);
    // Control for the sniffer: a datagram on the host's loopback carrying the canary is seen.
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ok = eventually(Duration::from_secs(3), || {
        let _ = u.send_to(canary.as_bytes(), "127.0.0.3:9");
        sniffer.saw(canary.as_bytes())
    });
    assert!(ok, "positive control failed: the packet sniffer did not see a datagram sent on the host's loopback");

    // The cell's resolver configuration points at the in-cell stub.
    let out = c.probe(&["cat", "/etc/resolv.conf"]);
    assert_allowed(&out, "reading the cell's /etc/resolv.conf");
    assert!(
        out.stdout().contains("nameserver 127.0.0.1"),
        "the cell's resolv.conf must name the stub:{}",
        out.describe()
    );

    // Allowed name: a synthetic A record, no AAAA.
    synthetic_address(&c);
    assert_denied(&c.probe(&["resolve", ALLOWED, "inet6"]), "AAAA lookup of the allowed name");
    // Unlisted names: no address, whether the host knows them (/etc/hosts), they are the apex of
    // the allowed name, or nobody knows them (a would-be DNS tunnel label).
    let leak_names =
        [format!("{leak}.egress.test"), format!("{leak}.{ALLOWED}"), format!("{leak}.example.com"), leak.clone()];
    let mut names = vec![OTHER.to_string(), "egress.test".to_string(), "localhost.egress.test".to_string()];
    names.extend(leak_names.iter().cloned());
    for name in &names {
        for fam in ["any", "inet", "inet6"] {
            let out = c.probe(&["resolve", name, fam]);
            assert_denied(&out, &format!("resolving the unlisted name {name} ({fam}) in the cell"));
        }
    }
    // Nor does the proxy resolve a name it was asked to CONNECT to.
    let out = c.probe(&["proxy-connect", PROXY, &format!("{leak}.egress.test:{}", h.port)]);
    assert_denied(&out, "CONNECT to an unlisted name through the in-cell proxy");
    let out = c.probe(&["proxy-get", PROXY, &format!("http://{leak}.example.com:{}/", h.port)]);
    assert_denied(&out, "absolute-form GET of an unlisted name through the in-cell proxy");

    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !sniffer.saw(leak.as_bytes()),
        "ESCAPE: a packet carrying the unlisted label {leak:?} appeared on the host's interfaces: the \
         lookup left the cell (DNS forwarding or a host-side resolution)"
    );
}

#[test]
fn without_egress_there_is_no_dns_at_all() {
    let h = hosts();
    for name in [ALLOWED, OTHER, "localhost.egress.test"] {
        let out = cell().probe(&["resolve", name]);
        assert_denied(&out, &format!("resolving {name} in a cell with no egress"));
    }
    let out = cell().probe(&["http-get", ALLOWED, &h.p(), "/"]);
    assert_denied(&out, "GET to the test host from a cell with no egress");
    assert_no_connection(&h.allowed, ALLOWED, "a cell without egress");
    // Control: the same lookup works on the host.
    let out = host_probe(&["resolve", ALLOWED, "inet"]);
    assert_allowed(&out, "resolving allowed.egress.test on the host");
    assert!(out.data().iter().any(|l| l == "127.0.0.2"), "{}", out.describe());
}

// ============================================================================ in-cell HTTP proxy

#[test]
fn the_proxy_variables_point_at_the_in_cell_proxy() {
    let h = hosts();
    let out = egress_cell(&h).probe(&["print-env"]);
    assert_allowed(&out, "printing the cell's environment");
    for v in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        let want = format!("{v}=http://127.0.0.1:3128");
        assert!(out.data().iter().any(|l| l.trim_end_matches('/') == want), "{want} missing:{}", out.describe());
    }
    assert!(
        out.data().iter().any(|l| l.starts_with("NO_PROXY=") && l.contains("localhost") && l.contains("127.0.0.1")),
        "NO_PROXY must exempt localhost,127.0.0.1:{}",
        out.describe()
    );
    // Without egress there is no proxy to point at.
    let out = cell().probe(&["print-env"]);
    assert!(
        !out.data().iter().any(|l| l.to_ascii_uppercase().starts_with("HTTP_PROXY=")),
        "a cell without egress must not advertise a proxy:{}",
        out.describe()
    );
}

#[test]
fn connect_through_the_proxy_reaches_only_allowed_hosts() {
    let h = hosts();
    let c = egress_cell(&h);
    let out = c.probe(&["proxy-connect", PROXY, &format!("{OTHER}:{}", h.port)]);
    assert_denied(&out, "CONNECT other.egress.test:PORT through the in-cell proxy");
    assert!(
        out.data().iter().any(|l| l.starts_with("proxy: HTTP/1.1 403")),
        "want a 403 from the proxy:{}",
        out.describe()
    );
    let wrong_port = if h.port < u16::MAX { h.port + 1 } else { h.port - 1 };
    let out = c.probe(&["proxy-connect", PROXY, &format!("{ALLOWED}:{wrong_port}")]);
    assert_denied(&out, "CONNECT to the allowed host on another port through the in-cell proxy");
    let out = c.probe(&["proxy-connect", PROXY, &format!("127.0.0.2:{}", h.port)]);
    assert_denied(&out, "CONNECT to the allowed host's raw IP through the in-cell proxy");
    let out = c.probe(&["proxy-get", PROXY, &format!("http://{OTHER}:{}/absolute", h.port)]);
    assert_denied(&out, "absolute-form GET http://other.egress.test:PORT/ through the in-cell proxy");
    assert!(
        out.data().iter().any(|l| l.starts_with("status: HTTP/1.1 403")),
        "want a 403 from the proxy:{}",
        out.describe()
    );
    assert_no_connection(&h.other, OTHER, "requests through the in-cell proxy");
    assert_no_connection(&h.allowed, ALLOWED, "CONNECTs to the wrong port or the raw IP");

    // Controls: CONNECT to the allowed host answers 200 and the tunnel carries a request; the
    // absolute-form GET works too.
    let out = c.probe(&["proxy-connect", PROXY, &h.grant()]);
    assert_allowed(&out, "CONNECT allowed.egress.test:PORT through the in-cell proxy, then GET through the tunnel");
    assert!(out.data().iter().any(|l| l.starts_with("proxy: HTTP/1.1 200")), "{}", out.describe());
    assert_served_by(&out, ALLOWED, &h.grant());
    let out = c.probe(&["proxy-get", PROXY, &format!("http://{ALLOWED}:{}/absolute", h.port)]);
    assert_allowed(&out, "absolute-form GET http://allowed.egress.test:PORT/ through the in-cell proxy");
    assert_served_by(&out, ALLOWED, &h.grant());
}

// ============================================================================ Host header and SNI

#[test]
fn a_host_header_naming_another_host_is_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    for host in [format!("{OTHER}:{}", h.port), OTHER.to_string(), format!("127.0.0.3:{}", h.port)] {
        let out = c.probe(&["http-get", ALLOWED, &h.p(), "/fronted", &host]);
        assert_denied(&out, &format!("GET on a connection to allowed.egress.test with `Host: {host}`"));
        assert!(!out.stdout().contains("served-by="), "ESCAPE: a host server answered:{}", out.describe());
    }
    assert_no_bytes(&h.allowed, ALLOWED, "requests with a Host header naming another host");
    assert_no_connection(&h.other, OTHER, "requests with a Host header naming another host");
    // Control: the right Host header (with and without the port) gets 200.
    control_probe_reaches_allowed(&c, &h);
    let out = c.probe(&["http-get", ALLOWED, &h.p(), "/no-port", ALLOWED]);
    assert_allowed(&out, "GET with `Host: allowed.egress.test` (no port)");
    assert_served_by(&out, ALLOWED, ALLOWED);
}

#[test]
fn tls_sni_naming_another_host_is_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    let out = c.probe(&["tls-hello", ALLOWED, &h.p(), OTHER]);
    assert_denied(&out, "a TLS ClientHello with SNI other.egress.test on a connection to allowed.egress.test");
    assert_no_bytes(&h.allowed, ALLOWED, "a ClientHello with SNI other.egress.test");
    assert_no_connection(&h.other, OTHER, "a ClientHello with SNI other.egress.test");
    // Control: the right SNI crosses, byte for byte the record the probe built.
    let out = c.probe(&["tls-hello", ALLOWED, &h.p(), ALLOWED]);
    assert_allowed(&out, "a TLS ClientHello with SNI allowed.egress.test");
    assert!(out.stdout().contains("got a TLS record"), "{}", out.describe());
    assert_received(&h.allowed, ALLOWED, "the ClientHello with the right SNI", |b| {
        b.first() == Some(&0x16) && b.windows(ALLOWED.len()).any(|w| w == ALLOWED.as_bytes())
    });
}

/// A host server that keeps connections open (HTTP/1.1 keep-alive): it answers every request on a
/// connection, and records every byte the connection carried.
fn serve_keepalive(listener: TcpListener, name: &'static str) -> Log {
    let log = Log::default();
    let l2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let log = l2.clone();
            std::thread::spawn(move || {
                let peer = s.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                let idx = {
                    let mut v = log.0.lock().unwrap();
                    v.push(Conn { peer, bytes: Vec::new() });
                    v.len() - 1
                };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let (mut pending, mut buf) = (Vec::new(), [0u8; 8192]);
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    pending.extend_from_slice(&buf[..n]);
                    if let Some(c) = log.0.lock().unwrap().get_mut(idx) {
                        c.bytes.extend_from_slice(&buf[..n]);
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                        pending.drain(..end + 4);
                        let host = head
                            .lines()
                            .find_map(|l| {
                                l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.trim())
                            })
                            .unwrap_or("<none>");
                        let path = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("?");
                        let body = format!("served-by={name} host-header={host} path={path}\n");
                        let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        if s.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    log
}

/// Two GETs on one kept-alive connection: `python3 -c PY_TWO_REQUESTS NAME PORT HOST1 HOST2`.
const PY_TWO_REQUESTS: &str = r#"
import socket, sys
name, port, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3:5]
s = socket.create_connection((name, port), timeout=5)
buf = b""
def get(i, host):
    global buf
    s.sendall(f"GET /request-{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise EOFError("connection closed")
        buf += b
    head, buf = buf.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(buf) < length:
        b = s.recv(4096)
        if not b:
            raise EOFError("connection closed in the body")
        buf += b
    body, buf = buf[:length], buf[length:]
    print(f"response {i}: {body.decode(errors='replace').strip()}")
for i, host in enumerate(hosts, 1):
    try:
        get(i, host)
    except (OSError, EOFError, ValueError, IndexError) as e:
        print(f"request {i}: {type(e).__name__}: {e}")
        break
"#;

/// Sends one raw request (argv[3], CRLFs included) and prints what came back.
const PY_RAW_REQUEST: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(sys.argv[3].encode())
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError as e:
    print(f"error: {e}")
print(data.decode(errors="replace"))
"#;

#[test]
fn a_second_request_naming_another_host_on_a_kept_alive_connection_is_denied() {
    require_test_hosts();
    let l = TcpListener::bind((ALLOWED_IP, 0)).unwrap();
    let q = l.local_addr().unwrap().port();
    let log = serve_keepalive(l, ALLOWED);
    let c = cell().flag("--allow-private-host", format!("{ALLOWED}:{q}"));
    let right = format!("{ALLOWED}:{q}");
    // Control: two requests with the right Host on one connection are both served.
    let out = c.run("/usr/bin/python3", &["-c", PY_TWO_REQUESTS, ALLOWED, &q.to_string(), &right, &right], None);
    let want = format!("served-by={ALLOWED} host-header={right} path=/request-2");
    assert!(out.stdout().contains(&want), "positive control failed: keep-alive through the proxy:{}", out.describe());
    log.take();
    // The attack: the first request names the allowed host, the second (same connection) names
    // another one: domain fronting after the check.
    let wrong = format!("{OTHER}:{q}");
    let out = c.run("/usr/bin/python3", &["-c", PY_TWO_REQUESTS, ALLOWED, &q.to_string(), &right, &wrong], None);
    assert!(
        !out.stdout().contains("host-header=other.egress.test"),
        "ESCAPE: a second request with `Host: {wrong}` on a kept-alive connection to allowed.egress.test was served:{}",
        out.describe()
    );
    std::thread::sleep(GRACE);
    let conns = log.take();
    assert!(
        !conns.iter().any(|c| c.bytes.windows(OTHER.len()).any(|w| w == OTHER.as_bytes())),
        "ESCAPE: a request naming other.egress.test crossed to the allowed host's server:{}",
        Log::show(&conns)
    );
}

#[test]
fn an_absolute_form_target_naming_another_host_is_denied() {
    let h = hosts();
    let c = egress_cell(&h);
    let req = |target: &str| {
        format!("GET http://{target}/absolute HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", h.grant())
    };
    // A server must route an absolute-form request by its target, not by the Host header
    // (RFC 9112, 3.2.2): this names other.egress.test on a connection to allowed.egress.test.
    let out =
        c.run("/usr/bin/python3", &["-c", PY_RAW_REQUEST, ALLOWED, &h.p(), &req(&format!("{OTHER}:{}", h.port))], None);
    assert!(
        !out.stdout().contains("served-by="),
        "ESCAPE: an absolute-form request naming other.egress.test crossed the proxy and was answered (a \
         virtual-hosting server routes it by its target, not by Host):{}",
        out.describe()
    );
    std::thread::sleep(GRACE);
    let conns = h.allowed.take();
    assert!(
        !conns.iter().any(|c| c.bytes.windows(OTHER.len()).any(|w| w == OTHER.as_bytes())),
        "ESCAPE: an absolute-form request naming other.egress.test crossed to the allowed host's server:{}",
        Log::show(&conns)
    );
    // Control: the same request form naming the allowed host is served.
    let out = c.run("/usr/bin/python3", &["-c", PY_RAW_REQUEST, ALLOWED, &h.p(), &req(&h.grant())], None);
    assert_served_by(&out, ALLOWED, &h.grant());
}

// ====================================================================== private-address opt-in

#[test]
fn a_private_destination_needs_the_opt_in() {
    let h = hosts();
    let c = cell().flag("--allow-host", h.grant());
    // The name is granted, so it resolves in the cell; the host-side proxy refuses it because it
    // resolves to loopback.
    let out = c.probe(&["http-get", ALLOWED, &h.p(), "/no-opt-in"]);
    assert_denied(&out, "GET allowed.egress.test (loopback) granted with --allow-host, without the private opt-in");
    assert_no_connection(&h.allowed, ALLOWED, "a loopback destination without the opt-in");
    let out = c.probe(&["proxy-connect", PROXY, &h.grant()]);
    assert_denied(&out, "CONNECT through the in-cell proxy to a loopback destination without the opt-in");
    assert_no_connection(&h.allowed, ALLOWED, "a CONNECT to a loopback destination without the opt-in");
    // Control: the same grant with the opt-in.
    control_probe_reaches_allowed(&egress_cell(&h), &h);
}

// ===================================================================================== profiles

fn egress_profile(sc: &Scratch, name: &str, egress: &str, probe_args: &[&str]) -> std::path::PathBuf {
    let args = probe_args.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    sc.file(
        name,
        &format!(
            "[server]\ncommand = {:?}\nargs = [{args}]\n\n[filesystem]\nread = [{:?}]\n\n[network]\negress = [{egress}]\n",
            s(&probe()),
            s(&bin_dir())
        ),
    )
}

#[test]
fn a_profile_egress_entry_works_like_the_flags() {
    let h = hosts();
    let sc = Scratch::new("egress-profile");
    let get = ["http-get", ALLOWED, &h.p(), "/profile"];
    let with_opt_in = format!("{{ host = \"{ALLOWED}\", port = {}, allow_private = true }}", h.port);
    let p = egress_profile(&sc, "opt-in.toml", &with_opt_in, &get);
    let out = run_cmd(mcpcell_cmd(&["run", s(&p)]), None, CELL_TIMEOUT);
    assert_allowed(&out, "a profile granting allowed.egress.test:PORT with allow_private = true");
    assert_served_by(&out, ALLOWED, &h.grant());
    h.allowed.take();

    let without = format!("\"{ALLOWED}:{}\"", h.port);
    let p = egress_profile(&sc, "no-opt-in.toml", &without, &get);
    let out = run_cmd(mcpcell_cmd(&["run", s(&p)]), None, CELL_TIMEOUT);
    assert_denied(&out, "a profile granting allowed.egress.test:PORT (loopback) without allow_private");
    assert_no_connection(&h.allowed, ALLOWED, "a profile without allow_private");

    let p = egress_profile(&sc, "other.toml", &with_opt_in, &["http-get", OTHER, &h.p(), "/profile"]);
    let out = run_cmd(mcpcell_cmd(&["run", s(&p)]), None, CELL_TIMEOUT);
    assert_denied(&out, "other.egress.test from a profile granting only allowed.egress.test");
    assert_no_connection(&h.other, OTHER, "a profile granting only allowed.egress.test");
}

#[test]
fn a_wildcard_grants_subdomains_but_not_the_apex() {
    let h = hosts();
    let c = cell().flag("--allow-private-host", format!("*.egress.test:{}", h.port));
    let out = c.probe(&["http-get", ALLOWED, &h.p(), "/wild"]);
    assert_allowed(&out, "allowed.egress.test under *.egress.test");
    assert_served_by(&out, ALLOWED, &h.grant());
    let out = c.probe(&["http-get", OTHER, &h.p(), "/wild"]);
    assert_allowed(&out, "other.egress.test under *.egress.test");
    assert_served_by(&out, OTHER, &format!("{OTHER}:{}", h.port));
    let out = c.probe(&["resolve", "egress.test"]);
    assert_denied(&out, "the apex egress.test under *.egress.test");
}

#[test]
fn explain_lists_the_egress_hosts() {
    let sc = Scratch::new("egress-explain");
    let p = sc.file(
        "explain.toml",
        "[server]\ncommand = \"/bin/cat\"\n\n[network]\negress = [\"api.github.com\", \
         { host = \"allowed.egress.test\", port = 18080, allow_private = true }]\n",
    );
    let out = mcpcell_run(&["explain", s(&p)]);
    assert_code(&out, 0, "explain of a profile with egress");
    for want in ["api.github.com:443", "allowed.egress.test:18080"] {
        assert!(out.stdout().contains(want), "explain must list {want}:{}", out.describe());
    }
    // The opt-in is visible too (it widens what the server may reach).
    assert!(out.stdout().to_lowercase().contains("private"), "explain must show the private opt-in:{}", out.describe());
    assert!(
        !out.stdout().contains("REFUSED"),
        "egress is enforced: explain must not announce a refusal:{}",
        out.describe()
    );
    let p = sc.file("none.toml", "[server]\ncommand = \"/bin/cat\"\n");
    let out = mcpcell_run(&["explain", s(&p)]);
    assert_code(&out, 0, "explain of a profile without egress");
    assert!(!out.stdout().contains("api.github.com"), "{}", out.describe());
}

#[test]
fn doctor_says_whether_egress_is_enforced() {
    let out = mcpcell_run(&["doctor"]);
    assert_code(&out, 0, "doctor");
    let text = format!("{}{}", out.stdout(), out.stderr()).to_lowercase();
    assert!(text.contains("egress"), "doctor must say whether egress enforcement is available:{}", out.describe());
}

/// Guards the harness itself: the servers record what they receive and answer as described.
#[test]
fn harness_servers_answer_and_record() {
    let h = hosts();
    let t0 = Instant::now();
    let out = host_probe(&["tls-hello", ALLOWED, &h.p(), ALLOWED]);
    assert_allowed(&out, "a ClientHello to the allowed host's server on the host");
    assert_received(&h.allowed, ALLOWED, "the ClientHello", |b| b.first() == Some(&0x16));
    let out = host_probe(&["http-get", OTHER, &h.p(), "/x", "whatever"]);
    assert_allowed(&out, "GET to the other host's server on the host");
    assert_served_by(&out, OTHER, "whatever");
    assert!(t0.elapsed() < Duration::from_secs(20));
}

const PY_SERVER_FIRST: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
greeting = s.recv(100)
print(("ALLOWED" if greeting.startswith(b"220 ") else "DENIED") + ": greeting " + repr(greeting))
s.sendall(b"QUIT\r\n")
sys.exit(0 if greeting.startswith(b"220 ") else 1)
"#;

/// SMTP-style: the server speaks first while the client waits. The proxy must relay the
/// server's greeting at once (it inspects only what the client sends), and the client's reply
/// must still arrive.
#[test]
fn a_server_that_speaks_first_is_relayed_at_once() {
    require_test_hosts();
    let listener = TcpListener::bind((ALLOWED_IP, 0)).expect("bind 127.0.0.2:0 on the host");
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.write_all(b"220 greetings\r\n").expect("greet");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reply = [0u8; 16];
        let n = s.read(&mut reply).unwrap_or(0);
        reply[..n].to_vec()
    });
    let started = std::time::Instant::now();
    let c = cell().flag("--allow-private-host", format!("{ALLOWED}:{port}"));
    let out = c.run("/usr/bin/python3", &["-c", PY_SERVER_FIRST, ALLOWED, &port.to_string()], None);
    assert_allowed(&out, "reading a server-first greeting through the egress proxy");
    // Generous: far below the proxy's 10 s sniffing deadline, which is what a stall would hit.
    assert!(started.elapsed() < Duration::from_secs(8), "the greeting waited for the client:{}", out.describe());
    assert_eq!(server.join().expect("server thread"), b"QUIT\r\n", "the client's reply reached the server");
}

/// netd (the cell's DNS stub and forwarder, pid 2 in the cell) is outside the server's reach:
/// another Landlock domain (scoped signals) and seccomp (no ptrace). Control: the probe may
/// signal its own shell (signal 0 checks the permission without any effect), and egress still
/// works after the attempts.
#[test]
fn the_server_cannot_kill_or_trace_netd() {
    let h = hosts();
    let c = egress_cell(&h);
    let script = format!(
        "{probe} kill 2 9; {probe} ptrace-attach 2; {probe} kill $$ 0; {probe} http-get {ALLOWED} {port} /after",
        probe = probe().display(),
        port = h.p()
    );
    let out = c.run("/bin/sh", &["-c", &script], None);
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ALLOWED") || l.starts_with("DENIED")).collect();
    assert!(lines.len() >= 4, "expected four verdicts:{}", out.describe());
    assert!(lines[0].starts_with("DENIED: kill(2, 9)"), "killing netd must be denied:{}", out.describe());
    assert!(lines[1].starts_with("DENIED"), "ptracing netd must be denied:{}", out.describe());
    assert!(lines[2].starts_with("ALLOWED"), "control: signalling its own shell works:{}", out.describe());
    assert!(lines[3].starts_with("ALLOWED"), "egress still works afterwards:{}", out.describe());
}

/// Egress decisions land in the profile's audit log next to the relay's events.
#[test]
fn egress_decisions_are_audited() {
    let h = hosts();
    let sc = Scratch::new("egress-audit");
    let audit = sc.join("audit.jsonl");
    let profile = sc.file(
        "egress-audit.toml",
        &format!(
            "[server]\ncommand = \"{}\"\nargs = [\"http-get\", \"{OTHER}\", \"{port}\", \"/x\"]\n\n\
             [filesystem]\nread = [\"{}\"]\n\n[network]\negress = [{{ host = \"{ALLOWED}\", port = {port}, allow_private = true }}]\n\n\
             [audit]\nfile = \"{}\"\n",
            probe().display(),
            bin_dir().display(),
            audit.display(),
            port = h.port
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), None, CELL_TIMEOUT);
    assert_denied(&out, "the unlisted host, through a profile with an audit log");
    let text = std::fs::read_to_string(&audit).unwrap_or_else(|e| panic!("no audit file ({e}):{}", out.describe()));
    let events: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(
        events.iter().any(|e| e["event"] == "egress" && e["decision"] == "denied" && e["host"] == OTHER),
        "the DNS denial of {OTHER} is audited: {text}"
    );

    // Control: an allowed connection is audited as allowed.
    let allowed = profile.with_file_name("allowed.toml");
    std::fs::write(
        &allowed,
        std::fs::read_to_string(&profile).unwrap().replace(&format!("\"{OTHER}\""), &format!("\"{ALLOWED}\"")),
    )
    .unwrap();
    let out = run_cmd(mcpcell_cmd(&["run", s(&allowed)]), None, CELL_TIMEOUT);
    assert_allowed(&out, "the allowed host, through a profile with an audit log");
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["event"] == "egress" && e["decision"] == "allowed" && e["host"] == ALLOWED),
        "the allowed connection is audited: {text}"
    );
}
