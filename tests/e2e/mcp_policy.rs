//! The MCP-aware relay, used when a profile has [tools] or [audit]: a real server
//! (server-everything) and a malicious fixture server (tests/clients/poisoned_server.py), driven
//! by the real Python MCP SDK through `mcpcell run`.

mod common;

use common::*;
use serde_json::{json, Value};

fn run_client(profile: &std::path::Path, calls: &Value) -> Value {
    mcp_session(profile, calls, None).0
}

fn audit_events(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no audit file at {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_deny_list_hides_tools_and_refuses_their_calls_and_the_audit_records_it() {
    let sc = Scratch::new("policy");
    let audit = sc.join("audit/audit.jsonl");
    let profile = sc.file(
        "everything.toml",
        &format!(
            "[server]\ncommand = \"mcp-server-everything\"\n\n[tools]\ndeny = [\"get-env\", \"*-long-running-*\"]\n\n\
             [audit]\nfile = \"{}\"\n",
            audit.display()
        ),
    );
    let secret_arg = "argument-value-that-must-not-be-audited";
    let report = run_client(
        &profile,
        &json!([
            {"name": "echo", "tool": "echo", "arguments": {"message": secret_arg}},
            {"name": "get_env", "tool": "get-env", "arguments": {}},
        ]),
    );
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"echo"), "control: allowed tools are listed: {tools:?}");
    assert!(!tools.contains(&"get-env"), "a denied tool is hidden: {tools:?}");
    assert!(!tools.iter().any(|t| t.contains("long-running")), "a denied glob hides its tools: {tools:?}");
    assert_eq!(report["calls"]["echo"]["is_error"], json!(false), "control: an allowed call works: {report}");
    assert!(report["calls"]["echo"]["text"].as_str().unwrap_or("").contains(secret_arg), "{report}");
    assert_eq!(report["calls"]["get_env"]["is_error"], json!(true), "a denied call is refused: {report}");
    assert!(
        report["calls"]["get_env"]["text"].as_str().unwrap_or("").contains("not allowed by mcpcell profile"),
        "the refusal says why: {report}"
    );

    let events = audit_events(&audit);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"session_start"), "{kinds:?}");
    let call = events.iter().find(|e| e["event"] == "call" && e["tool"] == "echo").expect("a call event for echo");
    for field in ["ts_ms", "profile", "session", "seq", "rpc_id", "method", "args_sha256"] {
        assert!(!call[field].is_null(), "audit call event lacks {field}: {call}");
    }
    assert_eq!(call["args_sha256"].as_str().map(str::len), Some(64), "{call}");
    assert!(
        events.iter().any(|e| e["event"] == "result" && e["tool"] == "echo" && e["outcome"] == "ok"),
        "the call's outcome is recorded: {kinds:?}"
    );
    assert!(events.iter().any(|e| e["event"] == "denied" && e["tool"] == "get-env"), "the denial is recorded");
    let raw = std::fs::read_to_string(&audit).unwrap();
    assert!(!raw.contains(secret_arg), "argument values never reach the audit log");
}

fn poisoned_profile(sc: &Scratch, on_poisoned: &str) -> std::path::PathBuf {
    let clients = tests_dir().join("clients");
    sc.file(
        &format!("poisoned-{on_poisoned}.toml"),
        &format!(
            "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\"]\n\n[filesystem]\nread = [\"{}\"]\n\n\
             [tools]\non_poisoned = \"{on_poisoned}\"\n",
            clients.join("poisoned_server.py").display(),
            clients.display()
        ),
    )
}

#[test]
fn a_poisoned_tool_is_blocked_or_sanitised_per_policy() {
    let sc = Scratch::new("poison");
    let calls = json!([{"name": "add", "tool": "add", "arguments": {"a": 2, "b": 3}}]);

    let report = run_client(&poisoned_profile(&sc, "block"), &calls);
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(tools, ["echo"], "with on_poisoned = block the poisoned tool is hidden: {report}");
    assert!(
        !report["descriptions"]["echo"].as_str().unwrap_or("").contains('\u{200d}'),
        "hidden characters are stripped from the benign tool too: {report}"
    );

    let report = run_client(&poisoned_profile(&sc, "warn"), &calls);
    let desc = report["descriptions"]["add"].as_str().unwrap_or_else(|| panic!("warn keeps the tool: {report}"));
    assert!(desc.contains("<IMPORTANT>"), "warn keeps the text (flagged, not rewritten): {desc}");
    for hidden in ['\u{200b}', '\u{202e}'] {
        assert!(!desc.contains(hidden), "{hidden:?} must be stripped from the description: {desc:?}");
    }
    assert_eq!(report["calls"]["add"]["text"], json!("5"), "control: the tool still works: {report}");
}

#[test]
fn malformed_client_input_gets_a_json_rpc_error_and_never_reaches_the_server() {
    let sc = Scratch::new("malformed");
    // /bin/cat as the "server" echoes whatever reaches it: anything refused never comes back.
    let profile = sc.file("cat.toml", "[server]\ncommand = \"/bin/cat\"\n\n[tools]\ndeny = [\"x\"]\n");
    let input = b"this is not json\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n";
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), Some(input), CELL_TIMEOUT);
    assert_code(&out, 0, "run with the relay");
    let lines: Vec<Value> = out.stdout().lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2, "one error for the garbage, the valid request echoed:{}", out.describe());
    assert_eq!(lines[0]["error"]["code"], json!(-32700), "a parse error:{}", out.describe());
    assert_eq!(lines[0]["id"], Value::Null);
    assert_eq!(lines[1]["id"], json!(7), "control: the valid frame passes byte for byte:{}", out.describe());
    assert!(!out.stdout().contains("this is not json"), "the garbage never reached the server");
}
