//! A relay session: the client's stdio on one side, the server's pipes on the other, one
//! thread per direction (blocking I/O on pipes; no runtime needed). Used only when the profile
//! asks for inspection ([tools], [audit]); otherwise the server gets the client's fds directly.
//!
//! Client → server: `tools/call` to a tool the policy does not allow is answered by the relay
//! with a JSON-RPC error and never reaches the server; malformed or oversized frames get a
//! JSON-RPC error. Server → client: `tools/list` results lose the tools the policy hides, and
//! descriptions are sanitised (control, bidi, zero-width characters) and checked for hidden
//! instructions (warn, or block the tool). Every other frame passes byte for byte. Each call,
//! denial and finding is an audit event.

use super::frame::{Frame, LineFramer};
use super::message::{self, Id, Kind};
use super::{pin, poison};
use mcpcell_profiles::{PoisonAction, ToolPolicy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the relay enforces, from the profile (part of the cell plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayPlan {
    pub profile: String,
    pub policy: ToolPolicy,
    pub audit_file: Option<PathBuf>,
}

#[derive(Default)]
struct State {
    tools_list: HashSet<Id>,
    calls: HashMap<Id, (String, Instant)>,
}

struct Shared {
    plan: RelayPlan,
    state: Mutex<State>,
    client_out: Mutex<File>,
    audit: Option<Mutex<File>>,
    session: String,
    seq: Mutex<u64>,
}

/// The running relay. `finish` waits (boundedly) for the server's last bytes to reach the client.
pub struct RelaySession {
    to_client: Option<JoinHandle<()>>,
}

impl RelaySession {
    pub fn finish(mut self, within: Duration) {
        if let Some(handle) = self.to_client.take() {
            let until = Instant::now() + within;
            while !handle.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}

/// Start relaying between the client (`client_in`, `client_out`: our stdin/stdout) and the
/// server's pipes.
pub fn start(
    plan: RelayPlan,
    client_in: File,
    client_out: File,
    server_in: File,
    server_out: File,
) -> std::io::Result<RelaySession> {
    let audit = match &plan.audit_file {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            Some(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?))
        }
        None => None,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let shared = Arc::new(Shared {
        plan,
        state: Mutex::new(State::default()),
        client_out: Mutex::new(client_out),
        audit,
        session: format!("{:x}-{:x}", std::process::id(), now.as_micros()),
        seq: Mutex::new(0),
    });
    shared.event(json!({ "event": "session_start" }));
    let s = shared.clone();
    std::thread::Builder::new().name("relay-to-server".into()).spawn(move || to_server(&s, client_in, server_in))?;
    let s = shared.clone();
    let to_client =
        std::thread::Builder::new().name("relay-to-client".into()).spawn(move || to_client(&s, server_out))?;
    Ok(RelaySession { to_client: Some(to_client) })
}

impl Shared {
    fn max(&self) -> usize {
        usize::try_from(self.plan.policy.max_message_bytes).unwrap_or(usize::MAX)
    }

    fn send_client(&self, line: &[u8]) -> bool {
        let Ok(mut out) = self.client_out.lock() else { return false };
        out.write_all(line).and_then(|()| out.write_all(b"\n")).is_ok()
    }

    /// One audit line. Values of arguments are never written, only their digest.
    fn event(&self, mut fields: Value) {
        let Some(audit) = &self.audit else { return };
        let seq = match self.seq.lock() {
            Ok(mut n) => {
                *n += 1;
                *n
            }
            Err(_) => 0,
        };
        let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        if let Value::Object(map) = &mut fields {
            map.insert("ts_ms".into(), ts_ms.into());
            map.insert("profile".into(), self.plan.profile.clone().into());
            map.insert("session".into(), self.session.clone().into());
            map.insert("seq".into(), seq.into());
        }
        if let Ok(mut f) = audit.lock() {
            let _ = writeln!(f, "{fields}");
        }
    }
}

fn id_json(id: &Id) -> Value {
    match id {
        Id::Num(n) => json!(n),
        Id::Str(s) => json!(s),
    }
}

fn to_server(s: &Shared, client_in: File, mut server_in: File) {
    for_each_frame(client_in, s.max(), |frame| {
        let forward = match frame {
            Frame::Oversized { len } => {
                tracing::warn!(len, "relay: client message over the size limit, refused");
                let msg = format!("message of {len} bytes is over mcpcell's limit of {} bytes", s.max());
                s.send_client(&message::error_response(None, message::INVALID_REQUEST, &msg));
                None
            }
            Frame::Line(line) => check_request(s, line),
        };
        match forward {
            Some(line) => server_in.write_all(&line).and_then(|()| server_in.write_all(b"\n")).is_ok(),
            None => true,
        }
    });
    // Dropping server_in here: the server sees EOF.
}

/// Read `from` to EOF, frame it, and hand each frame to `f` until it returns false.
fn for_each_frame(mut from: File, max: usize, mut f: impl FnMut(Frame) -> bool) {
    let mut framer = LineFramer::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let frames = if n == 0 { framer.finish().into_iter().collect() } else { framer.push(&buf[..n]) };
        for frame in frames {
            if !f(frame) {
                return;
            }
        }
        if n == 0 {
            return;
        }
    }
}

/// A client frame: forwarded (Some) or answered by the relay (None).
fn check_request(s: &Shared, line: Vec<u8>) -> Option<Vec<u8>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Some(line);
    }
    let peek = message::peek(&line);
    match &peek.kind {
        Kind::Request { id, method } if method == "tools/call" => {
            let tool = peek.tool.clone().unwrap_or_default();
            if !s.plan.policy.allows(&tool) {
                tracing::warn!(tool = %tool, "relay: call to a tool the profile does not allow, refused");
                s.event(json!({ "event": "denied", "rpc_id": id_json(id), "method": method, "tool": tool,
                                "reason": "not allowed by the profile's [tools] policy" }));
                let msg = format!("tool {tool:?} is not allowed by mcpcell profile {}", s.plan.profile);
                s.send_client(&message::error_response(Some(id), message::INVALID_PARAMS, &msg));
                return None;
            }
            let digest = serde_json::from_slice::<Value>(&line)
                .ok()
                .and_then(|v| v.pointer("/params/arguments").map(pin::canonical_json))
                .map(|c| hex(&Sha256::digest(c.as_bytes())));
            s.event(json!({ "event": "call", "rpc_id": id_json(id), "method": method, "tool": tool,
                            "args_sha256": digest }));
            if let Ok(mut st) = s.state.lock() {
                st.calls.insert(id.clone(), (tool, Instant::now()));
            }
            Some(line)
        }
        Kind::Request { id, method } if method == "tools/list" => {
            if let Ok(mut st) = s.state.lock() {
                st.tools_list.insert(id.clone());
            }
            Some(line)
        }
        Kind::Invalid(reason) => {
            tracing::warn!(%reason, "relay: malformed message from the client, refused");
            let code = peek.kind.error_code().unwrap_or(message::INVALID_REQUEST);
            s.send_client(&message::error_response(None, code, reason));
            None
        }
        _ => Some(line),
    }
}

fn to_client(s: &Shared, server_out: File) {
    for_each_frame(server_out, s.max(), |frame| match frame {
        Frame::Oversized { len } => {
            tracing::warn!(len, "relay: server message over the size limit, dropped");
            s.event(json!({ "event": "oversized", "from": "server", "bytes": len }));
            true
        }
        Frame::Line(line) => s.send_client(&check_response(s, line)),
    });
    s.event(json!({ "event": "session_stop" }));
}

/// A server frame as it goes to the client (rewritten only for a filtered `tools/list`).
fn check_response(s: &Shared, line: Vec<u8>) -> Vec<u8> {
    let peek = message::peek(&line);
    let Kind::Response { id, is_error } = &peek.kind else { return line };
    let (is_list, call) = match s.state.lock() {
        Ok(mut st) => (st.tools_list.remove(id), st.calls.remove(id)),
        Err(_) => (false, None),
    };
    if let Some((tool, started)) = call {
        s.event(json!({ "event": "result", "rpc_id": id_json(id), "method": "tools/call", "tool": tool,
                        "outcome": if *is_error { "error" } else { "ok" },
                        "duration_ms": started.elapsed().as_millis() as u64 }));
    }
    if !is_list || *is_error {
        return line;
    }
    let Ok(mut msg) = serde_json::from_slice::<Value>(&line) else { return line };
    let Some(tools) = msg.pointer_mut("/result/tools").and_then(Value::as_array_mut) else { return line };
    tools.retain_mut(|tool| keep_tool(s, tool));
    serde_json::to_vec(&msg).unwrap_or(line)
}

/// Policy and poisoning checks on one listed tool; sanitises its description in place.
fn keep_tool(s: &Shared, tool: &mut Value) -> bool {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    if !s.plan.policy.allows(&name) {
        return false;
    }
    let Some(description) = tool.get("description").and_then(Value::as_str).map(str::to_string) else {
        return true;
    };
    let found = poison::findings(&description);
    let (clean, removed) = poison::sanitize(&description);
    if removed > 0 {
        tracing::warn!(tool = %name, removed, "relay: stripped hidden characters from a tool description");
        tool["description"] = Value::String(clean);
    }
    if found.is_empty() {
        return true;
    }
    let rules: Vec<&str> = found.iter().map(|f| f.rule).collect();
    let block = s.plan.policy.on_poisoned == PoisonAction::Block;
    tracing::warn!(tool = %name, ?rules, blocked = block, "relay: tool description looks like tool poisoning");
    s.event(json!({ "event": "poisoned", "tool": name, "rules": rules, "blocked": block }));
    !block
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
