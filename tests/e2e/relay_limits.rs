//! The MCP-aware relay's limits: `[tools] call_timeout_secs`, `calls_per_minute`,
//! `tool_calls_per_minute`, `max_message_bytes`, and `[audit] max_bytes` rotation. The server is a
//! fixture (tests/clients/misbehaving_server.py) with tools that answer (`echo`), answer late
//! (`slow`), never answer (`hang`) or answer too much (`huge`), and that logs every call and
//! cancellation reaching it. The tests speak raw JSON-RPC to `mcpcell run` over pipes they keep
//! open until they have read the replies (closing stdin would start the launcher's shutdown).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::live::*;
use common::*;
use serde_json::{json, Value};

/// A profile running the misbehaving fixture with extra profile text, and its call log.
struct Fixture {
    /// Holds the files; removed when the test ends.
    _sc: Scratch,
    profile: PathBuf,
    log: PathBuf,
}

impl Fixture {
    /// `extra` is appended to the profile (e.g. a `[tools]` or `[audit]` table).
    fn new(tag: &str, extra: &str) -> Fixture {
        let sc = Scratch::new(tag);
        let log = sc.dir("log").join("server.log");
        let clients = tests_dir().join("clients");
        let text = format!(
            "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\"]\n\
             env = {{ MISBEHAVE_LOG = \"{}\" }}\n\n[filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n\n{extra}",
            clients.join("misbehaving_server.py").display(),
            log.display(),
            clients.display(),
            log.parent().unwrap().display(),
        );
        let profile = sc.file("misbehaving.toml", &text);
        Fixture { _sc: sc, profile, log }
    }

    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// The tools the server was asked to run, in order.
    fn calls_reached_server(&self) -> Vec<String> {
        self.log_lines().iter().filter_map(|l| l.strip_prefix("call ").map(str::to_string)).collect()
    }

    fn start(&self) -> Live {
        let mut live = Live::start(mcpcell_cmd(&["run", s(&self.profile)]));
        live.handshake("relay-limits-test", json!({}));
        live
    }
}

// ------------------------------------------------------------------------------------- tests

#[test]
fn a_call_past_call_timeout_secs_is_answered_with_an_error_and_cancelled_at_the_server() {
    let fx = Fixture::new("limits-timeout", "[tools]\ncall_timeout_secs = 1\n");
    let mut live = fx.start();

    let r = live.call(2, "slow", json!({}));
    assert_eq!(r["error"]["code"], json!(-32001), "a timed-out call gets error -32001: {r}{}", live.describe());
    assert!(error_message(&r).contains("did not answer within"), "the error says why: {r}");

    assert!(
        eventually(Duration::from_secs(20), || fx.log_lines().iter().any(|l| l == "cancelled 2")),
        "the server receives notifications/cancelled for request 2; server log: {:?}{}",
        fx.log_lines(),
        live.describe()
    );
    // Let the server write its late answer, then make one more call: the server answers in
    // order, so by the time that reply arrives the late one has passed through the relay.
    assert!(
        eventually(Duration::from_secs(20), || fx.log_lines().iter().any(|l| l == "answered 2")),
        "the fixture answers `slow` late; server log: {:?}",
        fx.log_lines()
    );
    let r = live.call(3, "echo", json!({"message": "after the timeout"}));
    assert_ok_text(&r, "after the timeout");

    let lines = live.finish();
    let replies_to_2: Vec<&String> =
        lines.iter().filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["id"] == json!(2))).collect();
    assert_eq!(replies_to_2.len(), 1, "the late answer never reaches the client: {replies_to_2:?}");
    assert!(!lines.iter().any(|l| l.contains("slow answer")), "the late answer is dropped: {lines:?}");
}

#[test]
fn calls_over_the_rate_limits_are_refused_and_never_reach_the_server() {
    // All tools together.
    let fx = Fixture::new("limits-rate-all", "[tools]\ncalls_per_minute = 3\n");
    let mut live = fx.start();
    for id in 2..5 {
        let r = live.call(id, "echo", json!({"message": format!("m{id}")}));
        assert_ok_text(&r, &format!("m{id}"));
    }
    let r = live.call(5, "echo", json!({"message": "m5"}));
    assert!(r["error"].is_object(), "the 4th call in a minute is refused with a JSON-RPC error: {r}");
    assert!(error_message(&r).contains("rate limit"), "the refusal says \"rate limit\": {r}");
    live.finish();
    assert_eq!(fx.calls_reached_server(), ["echo", "echo", "echo"], "the refused call never reached the server");

    // Per tool: a third echo is refused while another tool still works.
    let fx = Fixture::new("limits-rate-tool", "[tools]\ntool_calls_per_minute = 2\n");
    let mut live = fx.start();
    assert_ok_text(&live.call(2, "echo", json!({"message": "a"})), "a");
    assert_ok_text(&live.call(3, "echo", json!({"message": "b"})), "b");
    let r = live.call(4, "echo", json!({"message": "c"}));
    assert!(r["error"].is_object(), "the 3rd echo in a minute is refused with a JSON-RPC error: {r}");
    assert!(error_message(&r).contains("rate limit"), "the refusal says \"rate limit\": {r}");
    let r = live.call(5, "huge", json!({}));
    assert!(r.get("error").is_none(), "another tool is under its own limit and still works: {r}");
    assert_eq!(r["result"]["content"][0]["text"].as_str().map(str::len), Some(4096), "{}", trunc(&r.to_string()));
    live.finish();
    assert_eq!(fx.calls_reached_server(), ["echo", "echo", "huge"], "the refused call never reached the server");
}

#[test]
fn messages_over_max_message_bytes_are_dropped_or_refused() {
    let fx = Fixture::new("limits-size", "[tools]\nmax_message_bytes = \"1KiB\"\ncall_timeout_secs = 2\n");
    let mut live = fx.start();

    // Server side: the 4 KiB answer is dropped; the call ends in an error (the timeout).
    let r = live.call(2, "huge", json!({}));
    assert!(r["error"].is_object(), "the too-long answer never arrives; the call errors: {}", trunc(&r.to_string()));
    assert!(!live.seen.iter().any(|l| l.contains("HHHHHHHH")), "no part of the answer reached the client");

    // Client side: a 2 KiB line gets -32600 and never reaches the server.
    let big = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                     "params": {"name": "echo", "arguments": {"message": "x".repeat(2048)}}});
    live.send(&big);
    let r = live.wait_for("error -32600 for the 2 KiB request", REPLY_TIMEOUT, |v| {
        v["error"]["code"] == json!(-32600) && (v["id"] == json!(3) || v["id"].is_null())
    });
    assert!(r.get("result").is_none(), "{r}");

    // Control: the session still works for messages under the limit.
    assert_ok_text(&live.call(4, "echo", json!({"message": "small"})), "small");
    let lines = live.finish();
    assert!(!lines.iter().any(|l| l.contains(&"x".repeat(2048))), "the 2 KiB request was never echoed back");
    assert_eq!(fx.calls_reached_server(), ["huge", "echo"], "the 2 KiB request never reached the server");
}

#[test]
fn the_audit_file_rotates_at_max_bytes() {
    let sc = Scratch::new("limits-audit-dir");
    let audit = sc.join("audit/audit.jsonl");
    let fx = Fixture::new("limits-audit", &format!("[audit]\nfile = \"{}\"\nmax_bytes = \"4KiB\"\n", audit.display()));
    let mut live = fx.start();
    for id in 2..42 {
        let msg = format!("message number {id}");
        assert_ok_text(&live.call(id, "echo", json!({ "message": msg })), &msg);
    }
    live.finish();
    assert_eq!(fx.calls_reached_server().len(), 40);

    let backup = PathBuf::from(format!("{}.1", audit.display()));
    for f in [&audit, &backup] {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{} exists after 40 calls: {e}", f.display()));
        assert!(text.len() <= 4096, "{} is at most 4 KiB, is {} bytes", f.display(), text.len());
        assert!(!text.trim().is_empty(), "{} has records", f.display());
        for l in text.lines() {
            assert!(serde_json::from_str::<Value>(l).is_ok(), "every line of {} is JSON: {l:?}", f.display());
        }
    }
}
