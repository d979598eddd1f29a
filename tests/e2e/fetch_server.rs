//! A real MCP server with network needs: `mcp-server-fetch` (PyPI, pinned in scripts/test and
//! installed into tests/.venv-fetch with Debian's /usr/bin/python3, so that the interpreter is
//! visible in the cell), run through `mcpcell run PROFILE` with `[network] egress` granting one
//! local test host, driven through the MCP protocol by the Python MCP SDK
//! (tests/clients/filesystem_client.py is a generic "list tools, call these tools" client).
//! Fetching the granted host succeeds; fetching another host fails, and that host sees nothing.
//!
//! mcp-server-fetch refuses, by default, any URL whose host resolves to a loopback, private or
//! link-local address (its own SSRF guard, which resolves the name inside the cell). Inside a cell
//! every granted name resolves to a synthetic loopback address (127.100.0.0/16), so the profile
//! passes `--allow-private-ips`: the guard that matters is mcpcell's host-side proxy, which
//! resolves the real name and refuses non-public destinations unless the entry opts in.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ALLOWED: &str = "allowed.egress.test";
const OTHER: &str = "other.egress.test";

/// Environment variable naming the virtualenv holding mcp-server-fetch (scripts/test sets it).
const FETCH_VENV_ENV: &str = "MCPCELL_TEST_FETCH_VENV";

fn fetch_venv() -> PathBuf {
    let venv = std::env::var_os(FETCH_VENV_ENV).map(PathBuf::from).unwrap_or_else(|| tests_dir().join(".venv-fetch"));
    assert!(
        venv.join("bin/mcp-server-fetch").is_file(),
        "mcp-server-fetch is missing from {}: run scripts/test, which creates it (or set {FETCH_VENV_ENV})",
        venv.display()
    );
    venv
}

/// A host HTTP server answering 200 with a body naming it; counts the connections it accepted.
fn serve(listener: TcpListener, name: &'static str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let seen = s2.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&got).lines().next().unwrap_or("").to_string();
                seen.lock().unwrap().push(head.clone());
                let body = format!("served-by={name} request={head}\n");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
            });
        }
    });
    seen
}

fn require_test_hosts() {
    for (name, ip) in [(ALLOWED, Ipv4Addr::new(127, 0, 0, 2)), (OTHER, Ipv4Addr::new(127, 0, 0, 3))] {
        let got: Vec<IpAddr> = (name, 1u16).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
        assert!(
            got.contains(&IpAddr::V4(ip)),
            "the host does not resolve {name} to {ip} ({got:?}): run scripts/test as root (it adds the \
             test hosts to /etc/hosts)"
        );
    }
}

#[test]
fn fetch_server_reaches_only_the_granted_host() {
    require_test_hosts();
    let venv = fetch_venv();
    let (port, allowed, other) = (0..50)
        .find_map(|_| {
            let a = TcpListener::bind(("127.0.0.2", 0)).ok()?;
            let port = a.local_addr().ok()?.port();
            let o = TcpListener::bind(("127.0.0.3", port)).ok()?;
            Some((port, serve(a, ALLOWED), serve(o, OTHER)))
        })
        .expect("a port free on both 127.0.0.2 and 127.0.0.3");

    let sc = Scratch::new("fetch-server");
    let home = sc.dir("home");
    let profile = sc.file(
        "fetch.toml",
        &format!(
            "[server]\ncommand = \"{venv}/bin/mcp-server-fetch\"\nargs = [\"--ignore-robots-txt\", \"--allow-private-ips\"]\n\n\
             [filesystem]\nread = [\"{venv}\"]\n\n\
             [network]\negress = [{{ host = \"{ALLOWED}\", port = {port}, allow_private = true }}]\n",
            venv = venv.display()
        ),
    );
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let calls = json!([
        {"name": "allowed", "tool": "fetch", "arguments": {"url": url(ALLOWED, "/through-mcp"), "raw": true}},
        {"name": "other", "tool": "fetch", "arguments": {"url": url(OTHER, "/through-mcp"), "raw": true}},
        {"name": "raw_ip", "tool": "fetch", "arguments": {"url": format!("http://127.0.0.2:{port}/raw-ip"), "raw": true}},
    ]);
    let (report, out) = mcp_session(&profile, &calls, Some(&home));
    let ctx = out.describe();
    let call = |name: &str| -> (bool, String) {
        let c = &report["calls"][name];
        (
            c["is_error"].as_bool().unwrap_or_else(|| panic!("no result for {name}:{ctx}")),
            c["text"].as_str().unwrap_or("").to_string(),
        )
    };
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"fetch"), "tools listed: {tools:?}{ctx}");

    // Positive control: the granted host's page comes back through MCP.
    let (err, text) = call("allowed");
    assert!(
        !err && text.contains("served-by=allowed.egress.test request=GET"),
        "fetching the granted host through mcp-server-fetch failed: is_error={err} text={text:?}{ctx}"
    );
    assert!(allowed.lock().unwrap().iter().any(|r| r.contains("/through-mcp")), "{:?}", allowed.lock().unwrap());

    let (err, text) = call("other");
    assert!(err, "ESCAPE: fetching other.egress.test through mcp-server-fetch succeeded: {text:?}{ctx}");
    assert!(!text.contains("served-by="), "ESCAPE: a host server's page came back: {text:?}{ctx}");
    let (err, text) = call("raw_ip");
    assert!(err, "ESCAPE: fetching http://127.0.0.2:PORT/ through mcp-server-fetch succeeded: {text:?}{ctx}");
    assert!(!text.contains("served-by="), "ESCAPE: a host server's page came back: {text:?}{ctx}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(other.lock().unwrap().is_empty(), "ESCAPE: other.egress.test was contacted: {:?}", other.lock().unwrap());
    let hits: Vec<String> = allowed.lock().unwrap().clone();
    assert!(!hits.iter().any(|r| r.contains("/raw-ip")), "ESCAPE: the raw-IP fetch reached the host: {hits:?}");
}
