//! Checking every request on a plain-HTTP connection, not just the first: a kept-alive
//! connection to an allowed host must not carry a later request for another one, and an
//! absolute-form target (`GET http://other/ HTTP/1.1`, which servers route by) must name the
//! allowed host too. Bytes pass through unchanged; request heads are held back until checked,
//! and bodies are followed (Content-Length, chunked) to find where the next head starts.

use super::sniff::{self, Sniff};

const HEAD_LIMIT: usize = 16 * 1024;
const LINE_LIMIT: usize = 4 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailers,
    /// After an Upgrade request (WebSocket): no longer HTTP, relayed as is, like TLS.
    Opaque,
}

pub struct HttpGate {
    name: String,
    state: State,
    pending: Vec<u8>,
}

impl HttpGate {
    /// A gate for a connection mapped to `name` (lower-case).
    pub fn new(name: &str) -> Self {
        HttpGate { name: name.to_ascii_lowercase(), state: State::Head, pending: Vec::new() }
    }

    /// Feed bytes from the client; returns what may be forwarded now, or why the connection
    /// must be cut.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::with_capacity(self.pending.len());
        loop {
            let progressed = match self.state {
                State::Opaque => {
                    out.append(&mut self.pending);
                    false
                }
                State::Head => match find(&self.pending, b"\r\n\r\n") {
                    Some(i) => {
                        let head: Vec<u8> = self.pending.drain(..i + 4).collect();
                        self.state = check_head(&head, &self.name)?;
                        out.extend_from_slice(&head);
                        true
                    }
                    None if self.pending.len() > HEAD_LIMIT => return Err("an HTTP request head past 16 KiB".into()),
                    None => false,
                },
                State::Body(n) | State::ChunkData(n) => {
                    let take = (n.min(self.pending.len() as u64)) as usize;
                    out.extend(self.pending.drain(..take));
                    let left = n - take as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => State::Head,
                        (State::Body(_), _) => State::Body(left),
                        (_, 0) => State::ChunkDataEnd,
                        _ => State::ChunkData(left),
                    };
                    take > 0 && !self.pending.is_empty()
                }
                State::ChunkDataEnd => {
                    if self.pending.len() < 2 {
                        false
                    } else if self.pending.starts_with(b"\r\n") {
                        out.extend(self.pending.drain(..2));
                        self.state = State::ChunkSize;
                        true
                    } else {
                        return Err("malformed chunked body".into());
                    }
                }
                State::ChunkSize | State::Trailers => match find(&self.pending, b"\r\n") {
                    Some(i) => {
                        let line: Vec<u8> = self.pending.drain(..i + 2).collect();
                        self.state = if self.state == State::Trailers {
                            if i == 0 {
                                State::Head
                            } else {
                                State::Trailers
                            }
                        } else {
                            match chunk_size(&line[..i])? {
                                0 => State::Trailers,
                                n => State::ChunkData(n),
                            }
                        };
                        out.extend_from_slice(&line);
                        true
                    }
                    None if self.pending.len() > LINE_LIMIT => return Err("malformed chunked body".into()),
                    None => false,
                },
            };
            if !progressed || self.pending.is_empty() {
                break;
            }
        }
        Ok(out)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let size = line.split(|b| *b == b';').next().unwrap_or_default();
    let text = std::str::from_utf8(size).map_err(|_| "malformed chunk size")?.trim();
    if text.is_empty() || text.len() > 15 {
        return Err("malformed chunk size".into());
    }
    u64::from_str_radix(text, 16).map_err(|_| "malformed chunk size".into())
}

/// Check one request head against the connection's name; say how its body is framed.
fn check_head(head: &[u8], name: &str) -> Result<State, String> {
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| "a request line that is not text")?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a malformed request line".into());
    };
    if !version.starts_with("HTTP/1.") {
        return Err("a malformed request line".into());
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        return Err("CONNECT sent to an origin server".into());
    }
    // Absolute form: servers route by the target, not the Host header.
    let lower = target.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("a request target with credentials".into());
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        if host.trim_end_matches('.') != name {
            return Err(format!("the request target names another host ({host})"));
        }
    }
    match sniff::client_hello(head) {
        Sniff::Http { host: Some(host) } if host != name => {
            return Err(format!("the connection names another host ({host})"));
        }
        Sniff::Http { .. } => {}
        Sniff::Unverifiable(what) => return Err(format!("cannot verify the destination: {what}")),
        _ => return Err("not an HTTP request".into()),
    }
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut upgrade = false;
    for header in head[line_end..].split(|b| *b == b'\n') {
        let Some(colon) = header.iter().position(|b| *b == b':') else { continue };
        let key = String::from_utf8_lossy(&header[..colon]).trim().to_ascii_lowercase();
        let value = String::from_utf8_lossy(&header[colon + 1..]).trim().to_ascii_lowercase();
        match key.as_str() {
            "content-length" => {
                let n: u64 = value.parse().map_err(|_| "a malformed Content-Length")?;
                if content_length.is_some_and(|c| c != n) {
                    return Err("conflicting Content-Length headers".into());
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                transfer_encoding = true;
                chunked = value.rsplit(',').next().map(str::trim) == Some("chunked");
            }
            "upgrade" => upgrade = true,
            _ => {}
        }
    }
    // Both framings at once is the request-smuggling shape: refuse it.
    if transfer_encoding && content_length.is_some() {
        return Err("both Transfer-Encoding and Content-Length".into());
    }
    if transfer_encoding && !chunked {
        return Err("a Transfer-Encoding other than chunked".into());
    }
    Ok(if upgrade {
        State::Opaque
    } else if chunked {
        State::ChunkSize
    } else {
        match content_length {
            Some(n) if n > 0 => State::Body(n),
            _ => State::Head,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::HttpGate;

    fn feed_all(gate: &mut HttpGate, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for p in parts {
            out.extend(gate.feed(p)?);
        }
        Ok(out)
    }

    #[test]
    fn kept_alive_requests_are_each_checked() {
        let one = b"GET /a HTTP/1.1\r\nHost: ok.test\r\n\r\n";
        let two = b"GET /b HTTP/1.1\r\nHost: ok.test:8080\r\n\r\n";
        let mut gate = HttpGate::new("ok.test");
        assert_eq!(feed_all(&mut gate, &[one, two]).unwrap(), [one.as_slice(), two].concat());
        let evil = b"GET /c HTTP/1.1\r\nHost: other.test\r\n\r\n";
        let mut gate = HttpGate::new("ok.test");
        let mut both = one.to_vec();
        both.extend_from_slice(evil);
        assert_eq!(gate.feed(&both), Err("the connection names another host (other.test)".into()));
    }

    #[test]
    fn heads_are_held_until_complete() {
        let mut gate = HttpGate::new("ok.test");
        assert_eq!(gate.feed(b"GET / HTTP/1.1\r\nHo").unwrap(), b"");
        assert_eq!(gate.feed(b"st: ok.test\r\n\r\n").unwrap(), b"GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n");
    }

    #[test]
    fn absolute_form_targets_must_name_the_host() {
        let mut gate = HttpGate::new("ok.test");
        let req = b"GET http://other.test/x HTTP/1.1\r\nHost: ok.test\r\n\r\n";
        assert_eq!(gate.feed(req), Err("the request target names another host (other.test)".into()));
        let mut gate = HttpGate::new("ok.test");
        let fine = b"GET http://OK.test:80/x HTTP/1.1\r\nHost: ok.test\r\n\r\n";
        assert_eq!(gate.feed(fine).unwrap(), fine);
    }

    #[test]
    fn bodies_are_skipped_by_content_length_and_chunks() {
        let post = b"POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 5\r\n\r\nHost:";
        let chunked =
            b"POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n";
        let evil = b"GET / HTTP/1.1\r\nHost: other.test\r\n\r\n";
        let mut gate = HttpGate::new("ok.test");
        let out = feed_all(&mut gate, &[post, chunked]).unwrap();
        assert_eq!(out, [post.as_slice(), chunked].concat());
        assert!(gate.feed(evil).is_err(), "a request after the bodies is still checked");
        // Byte by byte, the same.
        let mut gate = HttpGate::new("ok.test");
        let all = [post.as_slice(), chunked].concat();
        let mut out = Vec::new();
        for b in &all {
            out.extend(gate.feed(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(out, all);
        assert!(gate.feed(evil).is_err());
    }

    #[test]
    fn smuggling_shapes_and_connect_are_refused() {
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: ok.test\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"CONNECT other.test:443 HTTP/1.1\r\nHost: ok.test\r\n\r\n",
            b"GET http://user@ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: ok.test\r\nHost: other.test\r\n\r\n",
        ] {
            assert!(HttpGate::new("ok.test").feed(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_upgrade_turns_the_rest_opaque() {
        let mut gate = HttpGate::new("ok.test");
        let up = b"GET /ws HTTP/1.1\r\nHost: ok.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(gate.feed(up).unwrap(), up);
        assert_eq!(gate.feed(b"\x81\x05hello").unwrap(), b"\x81\x05hello");
    }
}
