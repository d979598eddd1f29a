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
use mcpcell_profiles::{LockedTool, PinMode, PoisonAction, ToolPolicy};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the relay enforces, from the profile (part of the cell plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayPlan {
    pub profile: String,
    /// How the user names the profile on the command line (a path for a profile file).
    pub spec: String,
    pub policy: ToolPolicy,
    pub audit_file: Option<PathBuf>,
    /// Rotate the audit file to FILE.1 when it would grow past this.
    pub audit_max_bytes: u64,
    pub pins: PinPlan,
    /// Every secret value handed to the server (refreshed ones included, as they are minted):
    /// redacted from what it sends back.
    pub secrets: crate::secrets::Registry,
}

/// Tool pinning: the lockfile's pins (None: no lockfile yet) and where it lives.
#[derive(Debug, Clone, PartialEq)]
pub struct PinPlan {
    pub mode: PinMode,
    pub lock_path: PathBuf,
    pub locked: Option<Vec<LockedTool>>,
}

// JSON values compare structurally, so equality here is a true equivalence.
impl Eq for PinPlan {}

#[derive(Default)]
struct State {
    tools_list: HashSet<Id>,
    calls: HashMap<Id, (String, Instant)>,
    /// name → pinned sha256, once there is a lockfile (at start, or written by trust on first use).
    locked: Option<HashMap<String, String>>,
    /// Tools listed in this session whose definition matches the pin: the only ones callable in
    /// block mode (a call that races ahead of the list is refused, not trusted).
    verified: HashSet<String>,
    /// Whether a tools/list result has been seen in this session.
    listed: bool,
    /// Start times of recent calls, overall and per tool (one-minute sliding windows).
    recent: VecDeque<Instant>,
    recent_by_tool: HashMap<String, VecDeque<Instant>>,
    /// Calls answered with a timeout: the server's late answer is dropped.
    timed_out: HashSet<Id>,
    /// Listed tools that declare annotations.readOnlyHint = true (for `read_only`).
    read_only_ok: HashSet<String>,
    /// Whether the client declared elicitation support in `initialize`.
    client_elicitation: bool,
    /// Calls waiting for the user's approval: elicitation id → (call id, tool, call line).
    held: HashMap<String, (Id, String, Vec<u8>)>,
    elicit_seq: u64,
}

struct Shared {
    plan: RelayPlan,
    redactor: crate::secrets::Registry,
    state: Mutex<State>,
    client_out: Mutex<File>,
    /// The server's stdin: written by the client direction and by the call-timeout watchdog.
    server_in: Mutex<Option<File>>,
    audit: Option<Arc<crate::audit::AuditLog>>,
    /// Set when the server's output ends: the watchdog stops.
    done: AtomicBool,
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
    audit: Option<Arc<crate::audit::AuditLog>>,
    client_in: File,
    client_out: File,
    server_in: File,
    server_out: File,
) -> std::io::Result<RelaySession> {
    let locked =
        plan.pins.locked.as_ref().map(|tools| tools.iter().map(|t| (t.name.clone(), t.sha256.clone())).collect());
    let shared = Arc::new(Shared {
        redactor: plan.secrets.clone(),
        plan,
        state: Mutex::new(State { locked, ..State::default() }),
        client_out: Mutex::new(client_out),
        server_in: Mutex::new(Some(server_in)),
        audit,
        done: AtomicBool::new(false),
    });
    shared.event(json!({ "event": "session_start" }));
    let s = shared.clone();
    std::thread::Builder::new().name("relay-to-server".into()).spawn(move || to_server(&s, client_in))?;
    if let Some(secs) = shared.plan.policy.call_timeout_secs {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("relay-timeouts".into())
            .spawn(move || watch_timeouts(&s, Duration::from_secs(secs)))?;
    }
    let s = shared.clone();
    let to_client =
        std::thread::Builder::new().name("relay-to-client".into()).spawn(move || to_client(&s, server_out))?;
    Ok(RelaySession { to_client: Some(to_client) })
}

impl Shared {
    /// Why a call to `tool` is refused under the pins, if it is: in block mode (and tofu once a
    /// lockfile exists) only tools pinned and unchanged may be called.
    fn pin_refusal(&self, tool: &str) -> Option<String> {
        if self.plan.pins.mode == PinMode::Warn {
            return None;
        }
        let st = self.state.lock().ok()?;
        let locked = st.locked.as_ref()?;
        if st.verified.contains(tool) {
            return None;
        }
        if locked.contains_key(tool) && !st.listed {
            return Some(format!(
                "tool {tool:?} has not been checked against its pin in this session yet; list the tools first"
            ));
        }
        Some(format!(
            "tool {tool:?} is not the one pinned in {} (new or changed since it was pinned); review with \
             `mcpcell diff {p}` and re-pin with `mcpcell lock {p}`",
            self.plan.pins.lock_path.display(),
            p = self.plan.spec
        ))
    }

    /// Check one listed tool against the pins; false when it must be hidden.
    fn pin_allows(&self, name: &str, tool: &Value) -> bool {
        let Some(pin) = pin::tool_pin(tool) else { return false };
        let Ok(mut st) = self.state.lock() else { return false };
        st.listed = true;
        let Some(locked) = &st.locked else { return true };
        let verdict = match locked.get(name) {
            Some(sha) if *sha == pin.sha256 => {
                st.verified.insert(name.to_string());
                return true;
            }
            Some(_) => "changed",
            None => "new",
        };
        st.verified.remove(name);
        drop(st);
        let block = self.plan.pins.mode != PinMode::Warn;
        tracing::warn!(tool = %name, verdict, blocked = block, lockfile = %self.plan.pins.lock_path.display(),
                       "relay: tool does not match its pin (possible rug pull)");
        self.event(json!({ "event": "pin_mismatch", "tool": name, "verdict": verdict, "blocked": block }));
        !block
    }

    /// Trust on first use: with no lockfile yet, the first tools/list becomes it.
    fn trust_on_first_use(&self, tools: &[Value]) {
        if self.plan.pins.mode != PinMode::Tofu {
            return;
        }
        let Ok(mut st) = self.state.lock() else { return };
        if st.locked.is_some() {
            return;
        }
        let mut lock = super::lock::lock_from_tools(&Value::Null, tools);
        let path = &self.plan.pins.lock_path;
        // Keep a package pin the lockfile already holds.
        if let Ok(Some(existing)) = mcpcell_profiles::Lockfile::read(path) {
            lock.package = existing.package;
        }
        let count = lock.tools.as_ref().map_or(0, Vec::len);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, lock.to_pretty_json()));
        match written {
            Ok(()) => {
                tracing::info!(lockfile = %path.display(), tools = count, "relay: pinned the tools (trust on first use)");
                self.event(json!({ "event": "pinned", "tools": count }));
                st.locked = Some(lock.tools.unwrap_or_default().into_iter().map(|t| (t.name, t.sha256)).collect());
            }
            Err(e) => tracing::warn!(lockfile = %path.display(), error = %e, "relay: could not write the lockfile"),
        }
    }

    fn max(&self) -> usize {
        usize::try_from(self.plan.policy.max_message_bytes).unwrap_or(usize::MAX)
    }

    fn send_server(&self, line: &[u8]) -> bool {
        let Ok(mut guard) = self.server_in.lock() else { return false };
        let Some(server_in) = guard.as_mut() else { return false };
        write_line(server_in, line).is_ok()
    }

    /// Why a call to `tool` is over a rate limit, if it is (and record it when it is not).
    fn rate_refusal(&self, tool: &str) -> Option<String> {
        let policy = &self.plan.policy;
        if policy.calls_per_minute.is_none() && policy.tool_calls_per_minute.is_none() {
            return None;
        }
        let Ok(mut st) = self.state.lock() else { return None };
        let now = Instant::now();
        let window = Duration::from_secs(60);
        let prune = |q: &mut VecDeque<Instant>| {
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
        };
        prune(&mut st.recent);
        if let Some(limit) = policy.calls_per_minute {
            if st.recent.len() >= limit as usize {
                return Some(format!("rate limit: more than {limit} tool calls per minute (mcpcell calls_per_minute)"));
            }
        }
        let per_tool = st.recent_by_tool.entry(tool.to_string()).or_default();
        prune(per_tool);
        if let Some(limit) = policy.tool_calls_per_minute {
            if per_tool.len() >= limit as usize {
                return Some(format!(
                    "rate limit: more than {limit} calls per minute to {tool:?} (mcpcell tool_calls_per_minute)"
                ));
            }
        }
        per_tool.push_back(now);
        st.recent.push_back(now);
        None
    }

    fn send_client(&self, line: &[u8]) -> bool {
        let Ok(mut out) = self.client_out.lock() else { return false };
        write_line(&mut out, line).is_ok()
    }

    /// One audit event. Values of arguments are never written, only their digest.
    fn event(&self, fields: Value) {
        if let Some(audit) = &self.audit {
            audit.event(fields);
        }
    }
}

fn id_json(id: &Id) -> Value {
    match id {
        Id::Num(n) => json!(n),
        Id::Str(s) => json!(s),
    }
}

fn to_server(s: &Shared, client_in: File) {
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
            Some(line) => s.send_server(&line),
            None => true,
        }
    });
    // Closing the server's stdin: it sees EOF.
    if let Ok(mut server_in) = s.server_in.lock() {
        server_in.take();
    }
}

/// Answer calls that outlive the profile's call_timeout_secs: the client gets a JSON-RPC
/// error, the server a cancellation, and the server's late answer is dropped.
fn watch_timeouts(s: &Shared, timeout: Duration) {
    while !s.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(timeout));
        let expired: Vec<(Id, String)> = match s.state.lock() {
            Ok(mut st) => {
                let ids: Vec<Id> =
                    st.calls.iter().filter(|(_, (_, t))| t.elapsed() >= timeout).map(|(id, _)| id.clone()).collect();
                ids.into_iter()
                    .filter_map(|id| {
                        let (tool, _) = st.calls.remove(&id)?;
                        st.timed_out.insert(id.clone());
                        Some((id, tool))
                    })
                    .collect()
            }
            Err(_) => return,
        };
        for (id, tool) in expired {
            let secs = timeout.as_secs();
            tracing::warn!(tool = %tool, secs, "relay: tool call timed out");
            s.event(json!({ "event": "timeout", "rpc_id": id_json(&id), "method": "tools/call", "tool": tool,
                            "duration_ms": timeout.as_millis() as u64 }));
            let msg = format!("tool {tool:?} did not answer within {secs} s (mcpcell call_timeout_secs)");
            s.send_client(&message::error_response(Some(&id), REQUEST_TIMEOUT, &msg));
            let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                                 "params": { "requestId": id_json(&id), "reason": msg } });
            s.send_server(cancel.to_string().as_bytes());
        }
    }
}

/// JSON-RPC error code the relay uses for a call it timed out (MCP's "request timeout").
const REQUEST_TIMEOUT: i64 = -32001;

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
            let refuse = |reason: &str, code: i64, msg: String| {
                tracing::warn!(tool = %tool, reason, "relay: tool call refused");
                s.event(json!({ "event": "denied", "rpc_id": id_json(id), "method": method, "tool": tool,
                                "reason": reason }));
                s.send_client(&message::error_response(Some(id), code, &msg));
                None
            };
            if !s.plan.policy.allows(&tool) {
                let msg = format!("tool {tool:?} is not allowed by mcpcell profile {}", s.plan.profile);
                return refuse("not allowed by the profile's [tools] policy", message::INVALID_PARAMS, msg);
            }
            if s.plan.policy.read_only && !s.state.lock().is_ok_and(|st| st.read_only_ok.contains(&tool)) {
                let msg = format!(
                    "tool {tool:?} is not declared read-only (annotations.readOnlyHint), and mcpcell profile {} \
                     allows only read-only tools (list the tools first)",
                    s.plan.profile
                );
                return refuse("not read-only", message::INVALID_PARAMS, msg);
            }
            if let Some(why) = s.pin_refusal(&tool) {
                return refuse("does not match the lockfile's pin", message::INVALID_PARAMS, why);
            }
            if let Some(why) = s.rate_refusal(&tool) {
                return refuse("rate limit", message::INVALID_REQUEST, why);
            }
            if s.plan.policy.needs_confirmation(&tool) {
                return ask_approval(s, id, &tool, line);
            }
            Some(admit_call(s, id, tool, line))
        }
        Kind::Request { id, method } if method == "tools/list" || method == "server/discover" => {
            if let Ok(mut st) = s.state.lock() {
                st.tools_list.insert(id.clone());
            }
            Some(line)
        }
        Kind::Request { method, .. } if method == "initialize" => {
            // Whether this client can be asked for approvals (MCP elicitation).
            let elicitation = serde_json::from_slice::<Value>(&line)
                .ok()
                .is_some_and(|v| v.pointer("/params/capabilities/elicitation").is_some_and(|e| !e.is_null()));
            if let Ok(mut st) = s.state.lock() {
                st.client_elicitation = elicitation;
            }
            Some(line)
        }
        Kind::Response { id: Id::Str(eid), is_error } if eid.starts_with(ELICIT_PREFIX) => {
            answer_approval(s, eid, *is_error, &line)
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

/// Ids of the relay's own requests to the client; their answers are the relay's, not the server's.
const ELICIT_PREFIX: &str = "mcpcell-elicit-";

/// Record a call that goes to the server (audit, timeouts) and return its line.
fn admit_call(s: &Shared, id: &Id, tool: String, line: Vec<u8>) -> Vec<u8> {
    let digest = arguments_digest(&line);
    s.event(json!({ "event": "call", "rpc_id": id_json(id), "method": "tools/call", "tool": tool,
                    "args_sha256": digest }));
    if let Ok(mut st) = s.state.lock() {
        st.calls.insert(id.clone(), (tool, Instant::now()));
    }
    line
}

/// Hold a call to a `confirm` tool and ask the user through the client (MCP elicitation).
/// A client that cannot be asked gets a refusal: approvals are never assumed.
fn ask_approval(s: &Shared, id: &Id, tool: &str, line: Vec<u8>) -> Option<Vec<u8>> {
    let Ok(mut st) = s.state.lock() else { return None };
    if !st.client_elicitation {
        drop(st);
        s.event(json!({ "event": "denied", "rpc_id": id_json(id), "method": "tools/call", "tool": tool,
                        "reason": "needs approval; the client does not support elicitation" }));
        let msg = format!(
            "tool {tool:?} needs the user's approval (mcpcell [tools] confirm), but this client did not declare \
             elicitation support, so it cannot be asked; refused"
        );
        s.send_client(&message::error_response(Some(id), message::INVALID_REQUEST, &msg));
        return None;
    }
    st.elicit_seq += 1;
    // Unguessable: a server must not be able to put the relay's id on a prompt of its own and
    // have the user's "accept" of that prompt approve the held call.
    let eid = format!("{ELICIT_PREFIX}{}-{}", st.elicit_seq, nonce());
    st.held.insert(eid.clone(), (id.clone(), tool.to_string(), line.clone()));
    drop(st);
    let args = serde_json::from_slice::<Value>(&line)
        .ok()
        .and_then(|v| v.pointer("/params/arguments").map(Value::to_string))
        .unwrap_or_default();
    let shown: String = args.chars().take(300).collect();
    let more = if args.chars().count() > 300 { "…" } else { "" };
    let request = json!({
        "jsonrpc": "2.0", "id": eid, "method": "elicitation/create",
        "params": {
            "message": format!("Allow the MCP server (mcpcell profile {}) to run the tool {tool:?} with {shown}{more}?",
                               s.plan.profile),
            "requestedSchema": { "type": "object", "properties": {} }
        }
    });
    s.event(json!({ "event": "approval_requested", "rpc_id": id_json(id), "tool": tool }));
    s.send_client(request.to_string().as_bytes());
    None
}

/// The client's answer to an approval request: forward the held call on "accept", else refuse it.
fn answer_approval(s: &Shared, eid: &str, is_error: bool, line: &[u8]) -> Option<Vec<u8>> {
    let held = s.state.lock().ok().and_then(|mut st| st.held.remove(eid));
    let (id, tool, call) = held?;
    let action = serde_json::from_slice::<Value>(line)
        .ok()
        .and_then(|v| v.pointer("/result/action").and_then(Value::as_str).map(str::to_string));
    if !is_error && action.as_deref() == Some("accept") {
        s.event(json!({ "event": "approved", "rpc_id": id_json(&id), "tool": tool }));
        return Some(admit_call(s, &id, tool, call));
    }
    let answer = action.unwrap_or_else(|| "error".into());
    s.event(json!({ "event": "denied", "rpc_id": id_json(&id), "method": "tools/call", "tool": tool,
                    "reason": format!("declined by the user ({answer})") }));
    let msg = format!("the call to {tool:?} was declined by the user ({answer})");
    s.send_client(&message::error_response(Some(&id), message::INVALID_REQUEST, &msg));
    None
}

fn to_client(s: &Shared, server_out: File) {
    for_each_frame(server_out, s.max(), |frame| match frame {
        Frame::Oversized { len } => {
            tracing::warn!(len, "relay: server message over the size limit, dropped");
            s.event(json!({ "event": "oversized", "from": "server", "bytes": len }));
            true
        }
        Frame::Line(line) => match check_response(s, line) {
            Some(out) => match s.redactor.redactor().redact(&out) {
                Some((clean, names)) => {
                    tracing::warn!(?names, "relay: the server sent a secret back; redacted");
                    s.event(json!({ "event": "redaction", "secrets": names }));
                    s.send_client(&clean)
                }
                None => s.send_client(&out),
            },
            None => true,
        },
    });
    s.done.store(true, Ordering::Relaxed);
    answer_orphaned_calls(s);
    s.event(json!({ "event": "session_stop" }));
}

/// The server's stdout closed (it exited or crashed): every tool call still waiting gets a
/// JSON-RPC error, so a client is not left waiting for an answer that cannot come.
fn answer_orphaned_calls(s: &Shared) {
    let orphans: Vec<(Id, String)> = match s.state.lock() {
        Ok(mut st) => st.calls.drain().map(|(id, (tool, _))| (id, tool)).collect(),
        Err(_) => return,
    };
    for (id, tool) in orphans {
        tracing::warn!(tool = %tool, "relay: the server went away before answering a call");
        s.event(json!({ "event": "orphaned", "rpc_id": id_json(&id), "method": "tools/call", "tool": tool }));
        let msg = format!("the server exited before answering the call to {tool:?} (mcpcell)");
        s.send_client(&message::error_response(Some(&id), SERVER_GONE, &msg));
    }
}

/// JSON-RPC error code for a call whose server went away (implementation-defined server error).
const SERVER_GONE: i64 = -32002;

/// A server frame as it goes to the client (rewritten only for a filtered `tools/list`).
fn check_response(s: &Shared, line: Vec<u8>) -> Option<Vec<u8>> {
    let peek = message::peek(&line);
    if let Kind::Request { id: Id::Str(rid), method } = &peek.kind {
        if rid.starts_with(ELICIT_PREFIX) {
            // The relay's id space: a server request using it could collect an approval.
            tracing::warn!(%method, "relay: server request with an id reserved for mcpcell's approvals, dropped");
            s.event(json!({ "event": "denied", "method": method, "reason": "server used a reserved request id" }));
            return None;
        }
    }
    let Kind::Response { id, is_error } = &peek.kind else { return Some(line) };
    let (is_list, call, late) = match s.state.lock() {
        Ok(mut st) => (st.tools_list.remove(id), st.calls.remove(id), st.timed_out.remove(id)),
        Err(_) => (false, None, false),
    };
    if late {
        return None; // the client already got the timeout error for this id
    }
    if let Some((tool, started)) = call {
        s.event(json!({ "event": "result", "rpc_id": id_json(id), "method": "tools/call", "tool": tool,
                        "outcome": if *is_error { "error" } else { "ok" },
                        "duration_ms": started.elapsed().as_millis() as u64 }));
    }
    if !is_list || *is_error {
        return Some(line);
    }
    let Ok(mut msg) = serde_json::from_slice::<Value>(&line) else { return Some(line) };
    let Some(tools) = msg.pointer_mut("/result/tools").and_then(Value::as_array_mut) else { return Some(line) };
    s.trust_on_first_use(tools);
    tools.retain_mut(|tool| keep_tool(s, tool));
    Some(serde_json::to_vec(&msg).unwrap_or(line))
}

/// Policy and poisoning checks on one listed tool; sanitises its description in place.
fn keep_tool(s: &Shared, tool: &mut Value) -> bool {
    let name = tool.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    if !s.plan.policy.allows(&name) || !s.pin_allows(&name, tool) {
        return false;
    }
    if s.plan.policy.read_only {
        if tool.pointer("/annotations/readOnlyHint") != Some(&Value::Bool(true)) {
            return false;
        }
        if let Ok(mut st) = s.state.lock() {
            st.read_only_ok.insert(name.clone());
        }
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

/// A line and its newline in one writev: one wake-up of the reader instead of two.
fn write_line(to: &mut File, line: &[u8]) -> std::io::Result<()> {
    let mut bufs = [std::io::IoSlice::new(line), std::io::IoSlice::new(b"\n")];
    let mut bufs = &mut bufs[..];
    while !bufs.is_empty() {
        match to.write_vectored(bufs) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// SHA-256 of a call's `params.arguments` exactly as sent (borrowed, no parse into a tree):
/// a fingerprint for the audit log that never contains the values.
fn arguments_digest(line: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Call<'a> {
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        arguments: Option<&'a serde_json::value::RawValue>,
    }
    let call: Call<'_> = serde_json::from_slice(line).ok()?;
    let raw = call.params?.arguments?;
    Some(hex(&Sha256::digest(raw.get().as_bytes())))
}

/// 128 random bits, hex (from the kernel's CSPRNG).
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if filled.is_err() {
        // getrandom(2) as a fallback; /dev/urandom is always there in practice.
        // SAFETY: the kernel writes at most `bytes.len()` bytes into the buffer we own.
        unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    }
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
