//! A running `mcpcell run` driven over raw JSON-RPC: stdin stays open until the test has read the
//! replies (closing stdin would start the launcher's shutdown), stdout lines arrive through a
//! channel. Shared by relay_limits.rs and approvals.rs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{render, wait_timeout, CELL_TIMEOUT};

/// How long to wait for any one reply: generous, a missing reply is a bug, not a slow machine.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `mcpcell run` whose stdin stays open until [`Live::finish`].
pub struct Live {
    pub cmdline: String,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
    /// Every stdout line received so far.
    pub seen: Vec<String>,
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

impl Live {
    pub fn start(mut cmd: Command) -> Live {
        let cmdline = render(&cmd);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {cmdline}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match std::io::Read::read(&mut se, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        Live { cmdline, child, stdin, lines, seen: Vec::new(), stderr }
    }

    pub fn describe(&self) -> String {
        format!(
            "\n  command: {}\n  --- stdout lines so far ---\n{}\n  --- stderr so far ---\n{}\n  --------------",
            self.cmdline,
            self.seen.iter().map(|l| format!("    {}", trunc(l))).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&self.stderr.lock().unwrap())
        )
    }

    pub fn send_line(&mut self, line: &str) {
        let w = self.stdin.as_mut().expect("stdin still open");
        let r = w.write_all(line.as_bytes()).and_then(|_| w.write_all(b"\n")).and_then(|_| w.flush());
        if let Err(e) = r {
            panic!("cannot write to mcpcell run ({e}):{}", self.describe());
        }
    }

    pub fn send(&mut self, msg: &Value) {
        self.send_line(&msg.to_string());
    }

    /// Waits for the first stdout line (from now on) that parses as JSON and satisfies `pred`.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if pred(&v) {
                            return v;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {timeout:?}:{}", self.describe())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("mcpcell run closed its stdout before {what}:{}", self.describe())
                }
            }
        }
    }

    /// Collects whatever stdout lines arrive within `dur` (into `seen` too) and returns them.
    pub fn collect_for(&mut self, dur: Duration) -> Vec<String> {
        let deadline = Instant::now() + dur;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    got.push(line);
                }
                Err(_) => return got,
            }
        }
    }

    pub fn reply(&mut self, id: i64) -> Value {
        self.wait_for(&format!("reply to id {id}"), REPLY_TIMEOUT, |v| {
            v["id"] == json!(id) && v.get("method").is_none()
        })
    }

    /// Waits for the relay's `elicitation/create` request to the client.
    pub fn elicitation(&mut self) -> Value {
        self.wait_for("elicitation/create request from the relay", REPLY_TIMEOUT, |v| {
            v["method"] == json!("elicitation/create")
        })
    }

    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.reply(id)
    }

    pub fn send_call(&mut self, id: i64, tool: &str, args: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": args}}));
    }

    pub fn call(&mut self, id: i64, tool: &str, args: Value) -> Value {
        self.send_call(id, tool, args);
        self.reply(id)
    }

    /// initialize as client `client_name` with `capabilities`, notifications/initialized,
    /// tools/list (ids 0 and 1); returns the listed tool names.
    pub fn handshake(&mut self, client_name: &str, capabilities: Value) -> Vec<String> {
        let init = self.request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": capabilities,
                   "clientInfo": {"name": client_name, "version": "1"}}),
        );
        assert!(init["result"].is_object(), "initialize succeeds: {init}{}", self.describe());
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        let list = self.request(1, "tools/list", json!({}));
        let tools = list["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list succeeds: {list}{}", self.describe()));
        tools.iter().map(|t| t["name"].as_str().unwrap_or("").to_string()).collect()
    }

    /// The `elicitation/create` requests the relay has sent so far.
    pub fn elicitations_seen(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["method"] == json!("elicitation/create"))
            .collect()
    }

    /// Closes stdin, reads stdout to EOF and waits for the launcher to exit; returns every stdout
    /// line of the session.
    pub fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + CELL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("mcpcell run did not close its stdout after stdin EOF:{}", self.describe())
                }
            }
        }
        if wait_timeout(&mut self.child, CELL_TIMEOUT).is_none() {
            panic!("mcpcell run did not exit after stdin EOF:{}", self.describe());
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn trunc(l: &str) -> String {
    if l.len() > 300 {
        let mut i = 300;
        while !l.is_char_boundary(i) {
            i -= 1;
        }
        format!("{}...[{} bytes]", &l[..i], l.len())
    } else {
        l.to_string()
    }
}

pub fn error_message(reply: &Value) -> &str {
    reply["error"]["message"].as_str().unwrap_or("")
}

#[track_caller]
pub fn assert_ok_text(reply: &Value, text: &str) {
    assert!(reply.get("error").is_none(), "the call succeeds: {reply}");
    assert_eq!(reply["result"]["content"][0]["text"], json!(text), "the call's answer: {reply}");
}
