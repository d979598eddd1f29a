//! The MCP-aware relay's approval gate (`[tools] confirm`) and `[tools] read_only`. A tools/call to a
//! confirm tool is held by the relay, which asks the *client* with an `elicitation/create` request
//! (id `mcpcell-elicit-<n>`); only an `accept` forwards the call, anything else answers it with a
//! "declined" error, and a client that did not declare `capabilities.elicitation` is refused at
//! once. With `read_only = true` only tools annotated `readOnlyHint: true` are listed and callable.
//! The servers are fixtures (tests/clients/misbehaving_server.py, tests/clients/annotated_server.py)
//! that log every call reaching them, which proves what the relay let through. The tests speak raw
//! JSON-RPC to `mcpcell run` over pipes they keep open until they have read the replies (the `Live`
//! helper is in common/live.rs).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::live::*;
use common::*;
use serde_json::{json, Value};

/// How long a held call is watched for leaking through before the client answers the prompt.
const HOLD_WATCH: Duration = Duration::from_millis(700);

/// The prefix of the relay's own elicitation request ids.
const ELICIT_ID_PREFIX: &str = "mcpcell-elicit-";

/// A client's `initialize` capabilities declaring elicitation support.
fn with_elicitation() -> Value {
    json!({"elicitation": {}})
}

/// A client's `initialize` capabilities without elicitation support.
fn without_elicitation() -> Value {
    json!({})
}

/// A profile running a fixture server with extra profile text, and the server's call log.
struct Fixture {
    /// Holds the files; removed when the test ends.
    _sc: Scratch,
    profile: PathBuf,
    log: PathBuf,
}

impl Fixture {
    /// The misbehaving fixture (`echo`, `hang`, `slow`, `huge`; no annotations); `extra` is appended
    /// to the profile (e.g. a `[tools]` table).
    fn new(tag: &str, extra: &str) -> Fixture {
        Fixture::with_server(tag, "misbehaving_server.py", extra)
    }

    /// A profile running tests/clients/`script` with `extra` appended.
    fn with_server(tag: &str, script: &str, extra: &str) -> Fixture {
        let sc = Scratch::new(tag);
        let log = sc.dir("log").join("server.log");
        let clients = tests_dir().join("clients");
        let text = format!(
            "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\"]\n\
             env = {{ MISBEHAVE_LOG = \"{}\" }}\n\n[filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n\n{extra}",
            clients.join(script).display(),
            log.display(),
            clients.display(),
            log.parent().unwrap().display(),
        );
        let profile = sc.file("approvals.toml", &text);
        let check = mcpcell_run(&["check", s(&profile)]);
        assert_code(&check, 0, &format!("`mcpcell check` accepts the profile:\n{text}"));
        Fixture { _sc: sc, profile, log }
    }

    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// The tools the server was asked to run, in order.
    fn calls_reached_server(&self) -> Vec<String> {
        self.log_lines().iter().filter_map(|l| l.strip_prefix("call ").map(str::to_string)).collect()
    }

    /// Starts `mcpcell run`, initializes with `capabilities` and returns the session and the
    /// names of the listed tools.
    fn start(&self, capabilities: Value) -> (Live, Vec<String>) {
        let mut live = Live::start(mcpcell_cmd(&["run", s(&self.profile)]));
        let tools = live.handshake("approvals-test", capabilities);
        (live, tools)
    }
}

/// Checks the shape of the relay's elicitation request for `tool` and returns its id.
#[track_caller]
fn check_elicitation(req: &Value, tool: &str) -> Value {
    assert_eq!(req["jsonrpc"], json!("2.0"), "the elicitation is JSON-RPC 2.0: {req}");
    let id = req["id"].clone();
    assert!(
        id.as_str().is_some_and(|i| i.starts_with(ELICIT_ID_PREFIX)),
        "the elicitation request's id is a string \"{ELICIT_ID_PREFIX}<n>\": {req}"
    );
    let message = req["params"]["message"].as_str().unwrap_or("");
    assert!(message.contains(tool), "the elicitation's message names the tool `{tool}`: {req}");
    assert_eq!(req["params"]["requestedSchema"]["type"], json!("object"), "requestedSchema is an object schema: {req}");
    assert!(req["params"]["requestedSchema"]["properties"].is_object(), "requestedSchema has properties: {req}");
    id
}

/// Sends `tool` call `id` in a session with elicitation, checks that it is held (no reply, nothing
/// at the server) while the prompt is open, and returns the elicitation request id.
fn call_and_get_prompt(live: &mut Live, fx: &Fixture, id: i64, tool: &str, args: Value) -> Value {
    let before = fx.calls_reached_server();
    live.send_call(id, tool, args);
    let req = live.elicitation();
    let eid = check_elicitation(&req, tool);
    let during = live.collect_for(HOLD_WATCH);
    assert!(
        !during.iter().any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["id"] == json!(id))),
        "call {id} is held while the prompt is open (no reply yet): {during:?}{}",
        live.describe()
    );
    assert_eq!(fx.calls_reached_server(), before, "call {id} does not reach the server while the prompt is open");
    eid
}

/// No stdout line of the session carries an elicitation id other than the relay's own requests:
/// the misbehaving fixture answers any id-carrying message without a method with "method not
/// found", so a client's elicitation answer that reached the server would come back this way.
#[track_caller]
fn assert_no_elicit_answer_leaked(lines: &[String]) {
    for l in lines {
        let Ok(v) = serde_json::from_str::<Value>(l) else { continue };
        let elicit_id = v["id"].as_str().is_some_and(|i| i.starts_with(ELICIT_ID_PREFIX));
        assert!(
            !elicit_id || v["method"] == json!("elicitation/create"),
            "the client's answer to the elicitation reached the server (its reply came back): {l}"
        );
    }
}

// ------------------------------------------------------------------------------------- tests

#[test]
fn an_accepted_confirm_call_is_forwarded_and_answered() {
    let fx = Fixture::new("approvals-accept", "[tools]\nconfirm = [\"echo\"]\n");
    let (mut live, tools) = fx.start(with_elicitation());
    assert!(tools.contains(&"echo".to_string()), "a confirm tool is still listed: {tools:?}");

    let eid = call_and_get_prompt(&mut live, &fx, 2, "echo", json!({"message": "approved once"}));
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "result": {"action": "accept"}}));
    assert_ok_text(&live.reply(2), "approved once");
    assert_eq!(fx.calls_reached_server(), ["echo"], "the accepted call reached the server once");

    // Every call asks again (an approval is not remembered), under a fresh elicitation id.
    let eid2 = call_and_get_prompt(&mut live, &fx, 3, "echo", json!({"message": "approved twice"}));
    assert_ne!(eid, eid2, "each elicitation request has its own id");
    live.send(&json!({"jsonrpc": "2.0", "id": eid2, "result": {"action": "accept", "content": {}}}));
    assert_ok_text(&live.reply(3), "approved twice");

    let lines = live.finish();
    assert_eq!(fx.calls_reached_server(), ["echo", "echo"], "both accepted calls reached the server");
    let replies_to_2 =
        lines.iter().filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["id"] == json!(2))).count();
    assert_eq!(replies_to_2, 1, "call 2 is answered exactly once: {lines:?}");
    assert_no_elicit_answer_leaked(&lines);
}

#[test]
fn a_declined_confirm_call_is_refused_and_never_reaches_the_server() {
    let fx = Fixture::new("approvals-decline", "[tools]\nconfirm = [\"echo\"]\n");
    let (mut live, _) = fx.start(with_elicitation());

    let eid = call_and_get_prompt(&mut live, &fx, 2, "echo", json!({"message": "must not run"}));
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "result": {"action": "decline"}}));
    let r = live.reply(2);
    assert!(r["error"].is_object(), "a declined call is answered with a JSON-RPC error: {r}{}", live.describe());
    assert!(r.get("result").is_none(), "{r}");
    assert!(error_message(&r).contains("declined"), "the error says \"declined\": {r}");

    // A late "accept" for the same prompt (a replay) does not run the declined call either.
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "result": {"action": "accept"}}));

    // Control: a tool not in confirm still works, without a prompt.
    let r = live.call(3, "huge", json!({}));
    assert!(r.get("error").is_none(), "an unconfirmed tool works after a decline: {}", trunc(&r.to_string()));

    let lines = live.finish();
    assert_eq!(fx.calls_reached_server(), ["huge"], "the declined call never reached the server");
    // The prompt may show the arguments; nothing else carries them back.
    let leaked: Vec<&String> =
        lines.iter().filter(|l| l.contains("must not run") && !l.contains("elicitation/create")).collect();
    assert!(leaked.is_empty(), "the declined call's argument never came back: {leaked:?}");
    let replies_to_2 =
        lines.iter().filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["id"] == json!(2))).count();
    assert_eq!(replies_to_2, 1, "call 2 is answered exactly once, even after the replayed accept: {lines:?}");
    assert_no_elicit_answer_leaked(&lines);
}

#[test]
fn cancel_or_an_error_answer_to_the_prompt_refuses_the_call_too() {
    let fx = Fixture::new("approvals-cancel", "[tools]\nconfirm = [\"echo\"]\n");
    let (mut live, _) = fx.start(with_elicitation());

    let eid = call_and_get_prompt(&mut live, &fx, 2, "echo", json!({"message": "cancelled"}));
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "result": {"action": "cancel"}}));
    let r = live.reply(2);
    assert!(r["error"].is_object(), "a cancelled prompt's call gets a JSON-RPC error: {r}{}", live.describe());
    assert!(error_message(&r).contains("declined"), "the error says \"declined\": {r}");

    let eid = call_and_get_prompt(&mut live, &fx, 3, "echo", json!({"message": "errored"}));
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "error": {"code": -32603, "message": "client failed"}}));
    let r = live.reply(3);
    assert!(r["error"].is_object(), "an error answer to the prompt gets a JSON-RPC error: {r}{}", live.describe());
    assert!(error_message(&r).contains("declined"), "the error says \"declined\": {r}");

    // An unknown action is not an accept either.
    let eid = call_and_get_prompt(&mut live, &fx, 4, "echo", json!({"message": "odd"}));
    live.send(&json!({"jsonrpc": "2.0", "id": eid, "result": {"action": "yes please"}}));
    let r = live.reply(4);
    assert!(r["error"].is_object(), "an unknown action is not an approval: {r}{}", live.describe());

    let lines = live.finish();
    assert_eq!(fx.calls_reached_server(), Vec::<String>::new(), "no refused call reached the server");
    assert_no_elicit_answer_leaked(&lines);
}

#[test]
fn a_client_without_elicitation_is_refused_at_once_and_never_auto_approved() {
    let fx = Fixture::new("approvals-no-elicit", "[tools]\nconfirm = [\"echo\"]\n");
    let (mut live, _) = fx.start(without_elicitation());

    let r = live.call(2, "echo", json!({"message": "must not run"}));
    assert!(r["error"].is_object(), "the call is refused with a JSON-RPC error: {r}{}", live.describe());
    assert!(r.get("result").is_none(), "{r}");
    assert!(error_message(&r).contains("elicitation"), "the refusal mentions elicitation: {r}");
    assert!(live.elicitations_seen().is_empty(), "a client without the capability is never asked{}", live.describe());

    // Control: a tool not in confirm is unaffected.
    let r = live.call(3, "huge", json!({}));
    assert!(r.get("error").is_none(), "an unconfirmed tool works: {}", trunc(&r.to_string()));

    let lines = live.finish();
    assert_eq!(fx.calls_reached_server(), ["huge"], "the refused call never reached the server");
    assert!(!lines.iter().any(|l| l.contains("elicitation/create")), "no elicitation was ever sent: {lines:?}");
}

#[test]
fn tools_not_in_confirm_are_called_without_a_prompt() {
    let fx = Fixture::new("approvals-control", "[tools]\nconfirm = [\"echo\"]\n");
    let (mut live, tools) = fx.start(with_elicitation());
    assert_eq!(tools, ["echo", "hang", "slow", "huge"], "confirm does not filter the list");

    let r = live.call(2, "huge", json!({}));
    assert!(r.get("error").is_none(), "an unconfirmed tool works: {}", trunc(&r.to_string()));
    assert_eq!(r["result"]["content"][0]["text"].as_str().map(str::len), Some(4096), "{}", trunc(&r.to_string()));
    assert!(live.elicitations_seen().is_empty(), "no prompt for a tool not in confirm{}", live.describe());

    let lines = live.finish();
    assert!(!lines.iter().any(|l| l.contains("elicitation/create")), "{lines:?}");
    assert_eq!(fx.calls_reached_server(), ["huge"]);

    // Without any confirm list, echo itself runs unprompted.
    let fx = Fixture::new("approvals-none", "");
    let (mut live, _) = fx.start(with_elicitation());
    assert_ok_text(&live.call(2, "echo", json!({"message": "plain"})), "plain");
    let lines = live.finish();
    assert!(!lines.iter().any(|l| l.contains("elicitation/create")), "{lines:?}");
    assert_eq!(fx.calls_reached_server(), ["echo"]);
}

#[test]
fn read_only_hides_and_refuses_every_unannotated_tool() {
    let fx = Fixture::new("approvals-ro-misbehaving", "[tools]\nread_only = true\n");
    let (mut live, tools) = fx.start(without_elicitation());
    assert!(tools.is_empty(), "no misbehaving tool is annotated readOnlyHint, so none is listed: {tools:?}");
    let r = live.call(2, "echo", json!({"message": "must not run"}));
    assert!(r["error"].is_object(), "a call to a hidden tool is refused: {r}{}", live.describe());
    assert!(r.get("result").is_none(), "{r}");
    live.finish();
    assert_eq!(fx.calls_reached_server(), Vec::<String>::new(), "the refused call never reached the server");

    // Control: the same server without read_only lists and runs echo.
    let fx = Fixture::new("approvals-ro-control", "");
    let (mut live, tools) = fx.start(without_elicitation());
    assert_eq!(tools, ["echo", "hang", "slow", "huge"]);
    assert_ok_text(&live.call(2, "echo", json!({"message": "fine"})), "fine");
    live.finish();
    assert_eq!(fx.calls_reached_server(), ["echo"]);
}

#[test]
fn read_only_keeps_only_tools_annotated_read_only() {
    let fx = Fixture::with_server("approvals-ro-annotated", "annotated_server.py", "[tools]\nread_only = true\n");
    let (mut live, tools) = fx.start(without_elicitation());
    assert_eq!(tools, ["peek"], "only the readOnlyHint tool is listed");

    assert_ok_text(&live.call(2, "peek", json!({})), "peek");
    for (id, tool) in [(3, "poke"), (4, "erase")] {
        let r = live.call(id, tool, json!({}));
        assert!(r["error"].is_object(), "`{tool}` (not readOnlyHint) is refused: {r}{}", live.describe());
        assert!(r.get("result").is_none(), "{r}");
    }
    live.finish();
    assert_eq!(fx.calls_reached_server(), ["peek"], "the refused calls never reached the server");

    // Control: without read_only the fixture lists and runs all three.
    let fx = Fixture::with_server("approvals-ro-annotated-control", "annotated_server.py", "");
    let (mut live, tools) = fx.start(without_elicitation());
    assert_eq!(tools, ["peek", "poke", "erase"]);
    assert_ok_text(&live.call(2, "poke", json!({})), "poke");
    assert_ok_text(&live.call(3, "erase", json!({})), "erase");
    live.finish();
    assert_eq!(fx.calls_reached_server(), ["poke", "erase"]);
}

/// A server cannot borrow the relay's id space for a prompt of its own (which would let the
/// user's "accept" of a harmless-looking question approve a held call): such requests are
/// dropped. Control: the call that carried the attempt is still answered.
#[test]
fn a_server_request_in_the_relays_id_space_is_dropped() {
    let fx = Fixture::new("approvals-spoof", "[tools]\nconfirm = [\"slow\"]\n");
    let (mut live, _) = fx.start(with_elicitation());
    assert_ok_text(&live.call(2, "echo", json!({"message": "spoof-approval"})), "spoof-approval");
    let lines = live.finish();
    assert!(
        !lines.iter().any(|l| l.contains("Allow loading settings?")),
        "the server's spoofed prompt reached the client: {lines:?}"
    );
    assert_eq!(fx.calls_reached_server(), ["echo"]);
}
