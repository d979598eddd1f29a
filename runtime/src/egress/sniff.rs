//! What the first bytes of a connection say it wants: the TLS SNI or HTTP Host a client names
//! (checked against the name the connection was mapped to), and the target of a request sent to
//! the in-cell HTTP(S)_PROXY endpoint.

use std::net::Ipv6Addr;

/// How much of a connection's start we are willing to buffer before deciding.
const CAP: usize = 16 * 1024;
const METHODS: [&str; 9] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniff {
    NeedMore,
    /// A ClientHello; `sni: None` when it has no server_name extension at all.
    Tls {
        sni: Option<String>,
    },
    /// An HTTP request head; `host: None` when it has no Host header at all.
    Http {
        host: Option<String>,
    },
    /// Recognisably TLS or HTTP, but what it names cannot be checked: a malformed ClientHello,
    /// an SNI or Host that is not a host name, conflicting Host headers, a head past the cap.
    /// The proxy refuses these: a server might read them differently than we do.
    Unverifiable(&'static str),
    Other,
}

/// Classify the first bytes a client sent on a connection (buffering at most 16 KiB).
/// Names are lower-cased without a trailing dot.
pub fn client_hello(buf: &[u8]) -> Sniff {
    match buf.first() {
        None => Sniff::NeedMore,
        Some(0x16) => tls(buf),
        Some(_) => match method(buf) {
            Prefix::Method(_) => http(buf),
            Prefix::Partial => Sniff::NeedMore,
            Prefix::No => Sniff::Other,
        },
    }
}

enum Prefix {
    Method(&'static str),
    Partial,
    No,
}

/// Whether `buf` starts with "METHOD " — or could still, once more bytes arrive.
fn method(buf: &[u8]) -> Prefix {
    let mut partial = false;
    for m in METHODS {
        let m_bytes = m.as_bytes();
        if buf.len() > m_bytes.len() {
            if buf.starts_with(m_bytes) && buf[m_bytes.len()] == b' ' {
                return Prefix::Method(m);
            }
        } else if m_bytes.starts_with(buf) {
            partial = true;
        }
    }
    if partial {
        Prefix::Partial
    } else {
        Prefix::No
    }
}

// ---- TLS ----

/// Reassemble the handshake message from as many records as its own length says it spans,
/// then read the SNI from the ClientHello.
fn tls(buf: &[u8]) -> Sniff {
    let no_sni = Sniff::Unverifiable("a malformed TLS ClientHello");
    let mut handshake = Vec::new();
    let mut rest = buf;
    loop {
        // Record header: type 0x16, version 0x03xx, length. A wrong version byte means this was
        // never TLS; anything else wrong once we know it is TLS is a malformed hello.
        if rest.len() >= 2 && rest[1] != 0x03 {
            return if handshake.is_empty() { Sniff::Other } else { no_sni };
        }
        let Some(header) = rest.get(..5) else { return need_more(buf, no_sni) };
        if header[0] != 0x16 {
            return no_sni;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(payload) = rest.get(5..5 + len) else { return need_more(buf, no_sni) };
        if len == 0 {
            return no_sni;
        }
        handshake.extend_from_slice(payload);
        rest = &rest[5 + len..];
        // Handshake header: type 1 (ClientHello), 24-bit length.
        if handshake[0] != 1 {
            return no_sni;
        }
        if let Some(h) = handshake.get(..4) {
            let body_len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
            if let Some(body) = handshake.get(4..4 + body_len) {
                return match server_name(body) {
                    Some(sni) => Sniff::Tls { sni },
                    None => Sniff::Unverifiable("a malformed TLS ClientHello or server_name"),
                };
            }
        }
    }
}

fn need_more(buf: &[u8], verdict_at_cap: Sniff) -> Sniff {
    if buf.len() >= CAP {
        verdict_at_cap
    } else {
        Sniff::NeedMore
    }
}

/// A cursor over big-endian TLS fields; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a one-byte length prefix.
    fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()?;
        self.take(usize::from(n)).map(Reader)
    }
    /// A vector with a two-byte length prefix.
    fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()?;
        self.take(usize::from(n)).map(Reader)
    }
}

/// The host_name from the server_name extension (RFC 6066) of a ClientHello body:
/// `Some(None)` when there is no such extension, `None` when the hello or the name is malformed.
fn server_name(body: &[u8]) -> Option<Option<String>> {
    let mut r = Reader(body);
    r.take(2 + 32)?; // legacy_version, random
    r.vec8()?; // legacy_session_id
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    let mut extensions = r.vec16()?;
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = extensions.vec16()?;
        if kind != 0 {
            continue;
        }
        let mut names = data.vec16()?;
        while !names.0.is_empty() {
            let name_type = names.u8()?;
            let name = names.vec16()?;
            if name_type == 0 {
                return hostname(name.0).map(Some);
            }
        }
        return None;
    }
    Some(None)
}

/// Lower-cased, trailing dot stripped; None unless it is made of host name characters.
fn hostname(raw: &[u8]) -> Option<String> {
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    let ok = !raw.is_empty()
        && raw.len() <= 253
        && raw.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && !raw.starts_with(b".")
        && !raw.windows(2).any(|w| w == b"..");
    ok.then(|| raw.iter().map(|b| char::from(b.to_ascii_lowercase())).collect())
}

// ---- HTTP ----

/// The head up to and including the blank line, if it has arrived within the cap.
fn head(buf: &[u8]) -> Option<&[u8]> {
    let window = &buf[..buf.len().min(CAP)];
    window.windows(4).position(|w| w == b"\r\n\r\n").map(|i| &buf[..i + 4])
}

fn http(buf: &[u8]) -> Sniff {
    let Some(head) = head(buf) else { return need_more(buf, Sniff::Unverifiable("an HTTP head past 16 KiB")) };
    let mut hosts = head
        .split(|b| *b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            line[..colon].eq_ignore_ascii_case(b"host").then(|| host_value(&line[colon + 1..]))
        })
        .collect::<Vec<_>>();
    hosts.dedup();
    // Two different Host headers: a server might honour either, so we vouch for neither.
    match hosts.as_slice() {
        [] => Sniff::Http { host: None },
        [Some(host)] => Sniff::Http { host: Some(host.clone()) },
        _ => Sniff::Unverifiable("a malformed or conflicting Host header"),
    }
}

/// A Host header value: trimmed, port stripped, lower-cased; "[::1]:8080" → "::1".
fn host_value(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?.trim();
    if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        let ip: Ipv6Addr = inside.parse().ok()?;
        return Some(ip.to_string());
    }
    let name = match value.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return None,
        None => value,
    };
    hostname(name.as_bytes())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

// ---- the in-cell HTTP(S)_PROXY endpoint ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyRequest {
    NeedMore,
    /// `header_len`: bytes up to and including the blank line; the tunnel starts after them.
    Connect {
        host: String,
        port: u16,
        header_len: usize,
    },
    Absolute {
        host: String,
        port: u16,
    },
    Invalid(String),
}

/// Parse an HTTP proxy request head from a client of HTTP(S)_PROXY: "CONNECT host:port HTTP/1.1"
/// (port required) or an absolute-form request "GET http://host[:port]/path HTTP/1.1" (port
/// default 80; https:// is Invalid for absolute-form: clients use CONNECT for TLS).
pub fn proxy_request(buf: &[u8]) -> ProxyRequest {
    let invalid = |why: &str| ProxyRequest::Invalid(why.to_string());
    let method = match method(buf) {
        Prefix::Method(m) => m,
        Prefix::Partial => return ProxyRequest::NeedMore,
        Prefix::No => return invalid("not an HTTP request"),
    };
    let Some(head) = head(buf) else {
        return if buf.len() >= CAP { invalid("request head over 16 KiB") } else { ProxyRequest::NeedMore };
    };
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else { return invalid("request line is not UTF-8") };
    let parts: Vec<&str> = line.split(' ').collect();
    let [_, target, version] = parts[..] else { return invalid("malformed request line") };
    if !version.starts_with("HTTP/1.") {
        return invalid("not HTTP/1.x");
    }
    if method == "CONNECT" {
        return match authority(target) {
            Some((host, Some(port))) => ProxyRequest::Connect { host, port, header_len: head.len() },
            Some((_, None)) => invalid("CONNECT needs host:port"),
            None => invalid("bad CONNECT target"),
        };
    }
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return invalid("https:// URL sent as a plain request; use CONNECT");
    }
    if !lower.starts_with("http://") {
        return invalid("not an absolute http:// URL");
    }
    let rest = &target["http://".len()..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match authority(&rest[..end]) {
        Some((host, port)) => ProxyRequest::Absolute { host, port: port.unwrap_or(80) },
        None => invalid("bad host in URL"),
    }
}

/// "host", "host:port", "[v6]" or "[v6]:port" → (lower-cased host without brackets, port).
/// Userinfo ("user@host") is refused rather than parsed: it has no business in a proxy target.
fn authority(s: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        let port = if after.is_empty() { None } else { Some(after.strip_prefix(':')?) };
        (ip.to_string(), port)
    } else {
        let (name, port) = match s.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (s, None),
        };
        (hostname(name.as_bytes())?, port)
    };
    let port = match port {
        Some(p) if is_port(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        Some(_) => return None,
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec16(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut v = kind.to_be_bytes().to_vec();
        v.extend(vec16(data));
        v
    }

    /// A TLS 1.3 ClientHello as a browser would open with: one record, a 32-byte session id,
    /// three TLS 1.3 suites, null compression, and server_name (if given) + supported_versions.
    fn client_hello_bytes(sni: Option<&str>) -> Vec<u8> {
        let mut extensions = Vec::new();
        if let Some(name) = sni {
            let mut entry = vec![0u8]; // name_type host_name
            entry.extend(vec16(name.as_bytes()));
            extensions.extend(ext(0, &vec16(&entry)));
        }
        extensions.extend(ext(43, &[2, 0x03, 0x04])); // supported_versions: TLS 1.3
        let mut body = vec![0x03, 0x03];
        body.extend([0xaa; 32]); // random
        body.push(32);
        body.extend([0x55; 32]); // legacy_session_id
        body.extend(vec16(&[0x13, 0x01, 0x13, 0x02, 0x13, 0x03]));
        body.extend([1, 0]); // compression: null
        body.extend(vec16(&extensions));
        let len = body.len() as u32;
        let mut handshake = vec![1, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        handshake.extend(body);
        let mut record = vec![0x16, 0x03, 0x01];
        record.extend(vec16(&handshake));
        record
    }

    fn tls(sni: Option<&str>) -> Sniff {
        Sniff::Tls { sni: sni.map(str::to_string) }
    }

    fn http(host: Option<&str>) -> Sniff {
        Sniff::Http { host: host.map(str::to_string) }
    }

    #[test]
    fn egress_sniff_tls13_client_hello_sni() {
        let hello = client_hello_bytes(Some("api.github.com"));
        assert_eq!(hello.len(), 5 + 4 + 2 + 32 + 33 + 8 + 2 + 2 + (4 + 2 + 3 + 14) + 7);
        assert_eq!(client_hello(&hello), tls(Some("api.github.com")));
        assert_eq!(client_hello(&client_hello_bytes(Some("API.GitHub.com."))), tls(Some("api.github.com")));
    }

    #[test]
    fn egress_sniff_tls_without_sni_is_none_and_bad_sni_unverifiable() {
        assert_eq!(client_hello(&client_hello_bytes(None)), tls(None));
        let bad = Sniff::Unverifiable("a malformed TLS ClientHello or server_name");
        assert_eq!(client_hello(&client_hello_bytes(Some("evil\0.com"))), bad);
        assert_eq!(client_hello(&client_hello_bytes(Some("a b"))), bad);
        assert_eq!(client_hello(&client_hello_bytes(Some(""))), bad);
    }

    #[test]
    fn egress_sniff_tls_every_truncation_needs_more() {
        let hello = client_hello_bytes(Some("api.github.com"));
        for len in 1..hello.len() {
            assert_eq!(client_hello(&hello[..len]), Sniff::NeedMore, "len {len}");
        }
        assert_eq!(client_hello(&[]), Sniff::NeedMore);
    }

    #[test]
    fn egress_sniff_tls_hello_split_over_two_records() {
        let hello = client_hello_bytes(Some("api.github.com"));
        let handshake = &hello[5..];
        let (a, b) = handshake.split_at(40);
        let mut split = vec![0x16, 0x03, 0x01];
        split.extend(vec16(a));
        split.extend([0x16, 0x03, 0x01]);
        split.extend(vec16(b));
        for len in 0..split.len() {
            assert_eq!(client_hello(&split[..len]), Sniff::NeedMore, "len {len}");
        }
        assert_eq!(client_hello(&split), tls(Some("api.github.com")));
        // The second record must be a handshake record too.
        let mut bad = split.clone();
        bad[5 + a.len()] = 0x17;
        assert_eq!(client_hello(&bad), Sniff::Unverifiable("a malformed TLS ClientHello"));
    }

    #[test]
    fn egress_sniff_tls_malformed_is_unverifiable() {
        let mut hello = client_hello_bytes(Some("api.github.com"));
        hello[5] = 2; // ServerHello, not ClientHello
        assert_eq!(client_hello(&hello), Sniff::Unverifiable("a malformed TLS ClientHello"));
        // An extensions length running past the body.
        let mut hello = client_hello_bytes(Some("api.github.com"));
        let ext_len_at = 5 + 4 + 2 + 32 + 33 + 8 + 2;
        hello[ext_len_at] = 0xff;
        assert_eq!(client_hello(&hello), Sniff::Unverifiable("a malformed TLS ClientHello or server_name"));
        // A record too long to ever finish within the cap gives up at the cap.
        let mut huge = vec![0x16, 0x03, 0x01, 0xff, 0xff, 1];
        huge.resize(CAP - 1, 0);
        assert_eq!(client_hello(&huge), Sniff::NeedMore);
        huge.push(0);
        assert_eq!(client_hello(&huge), Sniff::Unverifiable("a malformed TLS ClientHello"));
    }

    #[test]
    fn egress_sniff_http_host_header() {
        let req = b"GET / HTTP/1.1\r\nUser-Agent: x\r\nHost:  Example.COM:8080 \r\n\r\n";
        assert_eq!(client_hello(req), http(Some("example.com")));
        assert_eq!(client_hello(b"POST /x HTTP/1.1\r\nhost: a.test\r\n\r\nbody"), http(Some("a.test")));
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), http(Some("::1")));
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"), http(Some("::1")));
        assert_eq!(client_hello(b"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n"), http(None));
        let conflicting = Sniff::Unverifiable("a malformed or conflicting Host header");
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"), conflicting);
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\nHost: a.test\r\nHOST: a.test\r\n\r\n"), http(Some("a.test")));
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\nHost: a.test:x\r\n\r\n"), conflicting);
    }

    #[test]
    fn egress_sniff_http_partial_head_needs_more() {
        let req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        for len in 0..req.len() {
            assert_eq!(client_hello(&req[..len]), Sniff::NeedMore, "len {len}");
        }
        let mut endless = b"GET / HTTP/1.1\r\nX: ".to_vec();
        endless.resize(CAP, b'a');
        assert_eq!(client_hello(&endless), Sniff::Unverifiable("an HTTP head past 16 KiB"));
    }

    #[test]
    fn egress_sniff_other_protocols_are_decided_at_once() {
        assert_eq!(client_hello(b"SSH-2.0-OpenSSH_9.6\r\n"), Sniff::Other);
        assert_eq!(client_hello(b"S"), Sniff::Other);
        // Postgres StartupMessage: length, protocol 3.0.
        assert_eq!(client_hello(&[0, 0, 0, 8, 0, 3, 0, 0]), Sniff::Other);
        assert_eq!(client_hello(b"GETX / HTTP/1.1\r\n\r\n"), Sniff::Other);
        assert_eq!(client_hello(&[0x16, 0x01]), Sniff::Other, "0x16 but not a TLS version");
        assert_eq!(client_hello(&[0xff, 0xfe, 0x00]), Sniff::Other);
    }

    fn connect(host: &str, port: u16, header_len: usize) -> ProxyRequest {
        ProxyRequest::Connect { host: host.to_string(), port, header_len }
    }

    fn absolute(host: &str, port: u16) -> ProxyRequest {
        ProxyRequest::Absolute { host: host.to_string(), port }
    }

    fn is_invalid(r: &ProxyRequest) -> bool {
        matches!(r, ProxyRequest::Invalid(_))
    }

    #[test]
    fn egress_sniff_proxy_connect() {
        let req = b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\n\r\n\x16\x03\x01";
        assert_eq!(proxy_request(req), connect("api.github.com", 443, req.len() - 3));
        assert_eq!(proxy_request(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n"), connect("::1", 8443, 31));
        assert_eq!(proxy_request(b"CONNECT API.Example.com.:80 HTTP/1.0\r\n\r\n"), connect("api.example.com", 80, 40));
        for bad in [
            &b"CONNECT api.github.com HTTP/1.1\r\n\r\n"[..],
            b"CONNECT api.github.com: HTTP/1.1\r\n\r\n",
            b"CONNECT api.github.com:0 HTTP/1.1\r\n\r\n",
            b"CONNECT api.github.com:65536 HTTP/1.1\r\n\r\n",
            b"CONNECT user@api.github.com:443 HTTP/1.1\r\n\r\n",
            b"CONNECT api.github.com:443 SMTP\r\n\r\n",
        ] {
            assert!(is_invalid(&proxy_request(bad)), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn egress_sniff_proxy_absolute_form() {
        assert_eq!(
            proxy_request(b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            absolute("example.com", 80)
        );
        assert_eq!(proxy_request(b"GET http://[::1]:8080/ HTTP/1.1\r\n\r\n"), absolute("::1", 8080));
        assert_eq!(proxy_request(b"POST HTTP://Example.com:81?q HTTP/1.1\r\n\r\n"), absolute("example.com", 81));
        assert!(is_invalid(&proxy_request(b"GET https://example.com/ HTTP/1.1\r\n\r\n")));
        assert!(is_invalid(&proxy_request(b"GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")));
        assert!(is_invalid(&proxy_request(b"GET http://u:p@example.com/ HTTP/1.1\r\n\r\n")));
    }

    #[test]
    fn egress_sniff_proxy_partial_and_garbage() {
        let req = b"CONNECT api.github.com:443 HTTP/1.1\r\n\r\n";
        for len in 0..req.len() {
            assert_eq!(proxy_request(&req[..len]), ProxyRequest::NeedMore, "len {len}");
        }
        assert!(is_invalid(&proxy_request(b"\x16\x03\x01\x02\x00")));
        assert!(is_invalid(&proxy_request(b"hello")));
        assert!(is_invalid(&proxy_request(b"GET  http://example.com/ HTTP/1.1\r\n\r\n")));
        let mut endless = b"GET http://example.com/ HTTP/1.1\r\nX: ".to_vec();
        endless.resize(CAP, b'a');
        assert!(is_invalid(&proxy_request(&endless)));
    }
}
