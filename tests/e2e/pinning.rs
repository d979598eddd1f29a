//! Tool pinning against rug pulls: `mcpcell lock` records a server's tools in a lockfile next to
//! the profile, `mcpcell diff` shows what changed since, and `mcpcell run` hides and refuses new or
//! changed tools per `[tools] pins` (block, the default; warn; tofu). The server is a fixture
//! (tests/clients/rugpull_server.py) whose tool set depends on a stage argument: stage 1 is the
//! harmless release, stage 2 the rug pull (`add` gains an <IMPORTANT> block, `exfiltrate` appears,
//! `echo` is unchanged). One profile file is rewritten between stages so that both stages share one
//! lockfile, as an updated server behind an unchanged client config would.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::{json, Value};

const ADD_V1: &str = "Adds two numbers.";

/// A profile running the rug-pull fixture, its lockfile path, and a log of the calls that reached
/// the server.
struct Fixture {
    /// Holds the files; removed when the test ends.
    _sc: Scratch,
    profile: PathBuf,
    lockfile: PathBuf,
    call_log: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let sc = Scratch::new(tag);
        let profile = sc.join("rugpull.toml");
        let lockfile = sc.join("rugpull.lock.json");
        let call_log = sc.dir("log").join("calls.log");
        Fixture { _sc: sc, profile, lockfile, call_log }
    }

    /// (Re)writes the profile for `stage` of the server; `pins` None leaves out `[tools]`
    /// altogether (the default policy). Poisoning checks are set to `warn` so that only pinning
    /// can hide stage 2's `add` (its description would also match the poisoning patterns).
    fn stage(&self, stage: u8, pins: Option<&str>) {
        let clients = tests_dir().join("clients");
        let mut text = format!(
            "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\", \"{stage}\"]\n\
             env = {{ RUGPULL_LOG = \"{}\" }}\n\n[filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n",
            clients.join("rugpull_server.py").display(),
            self.call_log.display(),
            clients.display(),
            self.call_log.parent().unwrap().display(),
        );
        if let Some(pins) = pins {
            text.push_str(&format!("\n[tools]\npins = \"{pins}\"\non_poisoned = \"warn\"\n"));
        }
        std::fs::write(&self.profile, text).unwrap();
    }

    fn lock(&self) -> Out {
        run_cmd(mcpcell_cmd(&["lock", s(&self.profile)]), None, CELL_TIMEOUT)
    }

    fn diff(&self) -> Out {
        run_cmd(mcpcell_cmd(&["diff", s(&self.profile)]), None, CELL_TIMEOUT)
    }

    /// `mcpcell lock` at the current stage, asserting success and the summary line.
    fn lock_ok(&self, tools: usize) {
        let out = self.lock();
        assert_code(&out, 0, "mcpcell lock");
        let all = format!("{}{}", out.stdout(), out.stderr());
        let line = all
            .lines()
            .find(|l| l.contains(&format!("pinned {tools} tools")))
            .unwrap_or_else(|| panic!("lock prints a line with \"pinned {tools} tools\":{}", out.describe()));
        assert!(
            line.contains(s(&self.lockfile)) || all.contains(s(&self.lockfile)),
            "lock names the lockfile {}:{}",
            self.lockfile.display(),
            out.describe()
        );
        assert!(self.lockfile.is_file(), "lock wrote {}:{}", self.lockfile.display(), out.describe());
    }

    /// One client session through `mcpcell run`, with the call log emptied first.
    fn session(&self, calls: &Value) -> (Value, Out) {
        let _ = std::fs::remove_file(&self.call_log);
        mcp_session(&self.profile, calls, None)
    }

    /// The tools the server was asked to run in the last session, in order.
    fn calls_reached_server(&self) -> Vec<String> {
        std::fs::read_to_string(&self.call_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("call ").map(str::to_string))
            .collect()
    }

    fn lock_text(&self) -> String {
        std::fs::read_to_string(&self.lockfile)
            .unwrap_or_else(|e| panic!("cannot read the lockfile {}: {e}", self.lockfile.display()))
    }

    fn lock_json(&self) -> Value {
        let text = self.lock_text();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("the lockfile is not JSON ({e}):\n{text}"))
    }
}

fn tools_of(report: &Value) -> Vec<String> {
    report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The pinned tools as (name, sha256) pairs, checking the lockfile's shape on the way.
fn pinned(lock: &Value) -> Vec<(String, String)> {
    assert_eq!(lock["version"], json!(1), "lockfile version: {lock}");
    assert!(lock["server"].is_object() || lock["server"].is_null(), "\"server\" is an object or null: {lock}");
    let tools = lock["tools"].as_array().unwrap_or_else(|| panic!("\"tools\" is an array: {lock}"));
    tools
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap_or_else(|| panic!("a pinned tool has a name: {t}"));
            let sha = t["sha256"].as_str().unwrap_or_else(|| panic!("a pinned tool has a sha256: {t}"));
            assert!(
                sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "sha256 is 64 lower-case hex characters: {t}"
            );
            assert!(t["definition"].is_object(), "a pinned tool keeps its definition: {t}");
            (name.to_string(), sha.to_string())
        })
        .collect()
}

fn names(pins: &[(String, String)]) -> Vec<&str> {
    pins.iter().map(|(n, _)| n.as_str()).collect()
}

fn definition<'a>(lock: &'a Value, tool: &str) -> &'a Value {
    lock["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == tool)
        .map(|t| &t["definition"])
        .unwrap_or_else(|| panic!("{tool} is pinned: {lock}"))
}

/// The lines of `mcpcell diff`'s stdout that name a change (`+ X`, `- X`, `~ X`, unindented).
fn change_lines(out: &Out) -> Vec<String> {
    out.stdout()
        .lines()
        .filter(|l| {
            let mut c = l.chars();
            matches!(c.next(), Some('+' | '-' | '~')) && c.next() == Some(' ')
        })
        .map(|l| l.trim_end().to_string())
        .filter(|l| {
            // `- Adds two numbers.` could be an old description line; change lines name one tool.
            let name = &l[2..];
            !name.is_empty() && !name.contains(' ')
        })
        .collect()
}

fn assert_refused_as_unpinned(report: &Value, label: &str) {
    let call = &report["calls"][label];
    assert_eq!(call["is_error"], json!(true), "the call to {label} is refused: {report}");
    let text = call["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("exception:"),
        "the refusal of {label} is a JSON-RPC error (the SDK raises), not a tool result: {report}"
    );
    assert!(text.contains("pinned"), "the refusal of {label} mentions \"pinned\": {report}");
    assert!(text.contains("mcpcell diff"), "the refusal of {label} points to `mcpcell diff`: {report}");
}

const CALLS: &str = r#"[
    {"name": "echo", "tool": "echo", "arguments": {"message": "still-pinned"}},
    {"name": "add", "tool": "add", "arguments": {"a": 2, "b": 3}},
    {"name": "exfiltrate", "tool": "exfiltrate", "arguments": {"path": "/etc/hostname"}}
]"#;

fn calls() -> Value {
    serde_json::from_str(CALLS).unwrap()
}

// ------------------------------------------------------------------------------------- tests

#[test]
fn lock_pins_the_tools_and_diff_then_reports_no_changes() {
    let fx = Fixture::new("pin-lock");
    fx.stage(1, Some("block"));

    // Without a lockfile there is nothing to compare with: an error, not "changes" (exit 1).
    let out = fx.diff();
    assert!(
        out.code() != 0 && out.code() != 1,
        "diff without a lockfile is an error (exit 2 or another non-zero status other than 1):{}",
        out.describe()
    );
    assert!(!out.stderr().trim().is_empty(), "diff without a lockfile says why on stderr:{}", out.describe());
    assert!(!fx.lockfile.exists(), "diff never writes the lockfile");

    fx.lock_ok(2);
    let lock = fx.lock_json();
    let pins = pinned(&lock);
    assert_eq!(names(&pins), ["add", "echo"], "both tools are pinned, sorted by name: {lock}");
    assert_ne!(pins[0].1, pins[1].1, "different definitions hash differently: {lock}");
    assert_eq!(definition(&lock, "add")["description"], json!(ADD_V1), "the definition is recorded: {lock}");
    assert_eq!(definition(&lock, "add")["inputSchema"]["required"], json!(["a", "b"]), "{lock}");

    let out = fx.diff();
    assert_code(&out, 0, "diff against an unchanged server");
    assert!(out.stdout().contains("no changes"), "diff says \"no changes\":{}", out.describe());
    assert!(change_lines(&out).is_empty(), "no change lines:{}", out.describe());

    // Re-locking an unchanged server gives the same file (reviewable in git: no churn).
    let before = fx.lock_text();
    fx.lock_ok(2);
    assert_eq!(fx.lock_text(), before, "re-locking an unchanged server rewrites the same bytes");
}

#[test]
fn after_a_rug_pull_diff_shows_the_changes_and_run_blocks_the_new_and_changed_tools() {
    let fx = Fixture::new("pin-block");
    fx.stage(1, Some("block"));
    fx.lock_ok(2);
    let pinned_text = fx.lock_text();

    fx.stage(2, Some("block"));
    let out = fx.diff();
    assert_code(&out, 1, "diff after the rug pull");
    let mut changes = change_lines(&out);
    changes.sort();
    assert_eq!(changes, ["+ exfiltrate", "~ add"], "one line per change, echo unchanged:{}", out.describe());
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines.iter().position(|l| l.trim_end() == "~ add").unwrap();
    let detail = &lines[at + 1..];
    let field = detail
        .iter()
        .position(|l| l.trim() == "description:")
        .unwrap_or_else(|| panic!("the changed field `description:` follows `~ add`:{}", out.describe()));
    let detail = &detail[field + 1..];
    assert!(
        detail.iter().any(|l| {
            let t = l.trim_start();
            t.starts_with('-') && t.contains(ADD_V1) && !t.contains("<IMPORTANT>")
        }),
        "the old description is shown prefixed with `-`:{}",
        out.describe()
    );
    assert!(
        detail.iter().any(|l| {
            let t = l.trim_start();
            t.starts_with('+') && t.contains("<IMPORTANT>") && t.contains("~/.ssh/id_rsa")
        }),
        "the new description is shown prefixed with `+`:{}",
        out.describe()
    );
    assert!(!stdout.contains("Echoes back"), "an unchanged tool's fields are not shown:{}", out.describe());

    let (report, _) = fx.session(&calls());
    assert_eq!(
        tools_of(&report),
        ["echo"],
        "only the unchanged tool is listed (add changed, exfiltrate new): {report}"
    );
    assert_eq!(report["calls"]["echo"]["is_error"], json!(false), "control: an unchanged tool works: {report}");
    assert_eq!(report["calls"]["echo"]["text"], json!("still-pinned"), "{report}");
    assert_refused_as_unpinned(&report, "add");
    assert_eq!(report["calls"]["exfiltrate"]["is_error"], json!(true), "a new tool is refused: {report}");
    assert_eq!(
        fx.calls_reached_server(),
        ["echo"],
        "refused calls never reach the server (control: echo did): {report}"
    );
    assert_eq!(fx.lock_text(), pinned_text, "running never re-pins under block");
}

#[test]
fn a_lockfile_alone_turns_the_relay_on_and_blocks_by_default() {
    let fx = Fixture::new("pin-default");
    fx.stage(1, None);
    fx.lock_ok(2);
    fx.stage(2, None);
    let (report, _) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["echo"], "with a lockfile and no [tools] section, pins default to block: {report}");
    assert_eq!(report["calls"]["echo"]["text"], json!("still-pinned"), "control: {report}");
    assert_refused_as_unpinned(&report, "add");
    assert_eq!(fx.calls_reached_server(), ["echo"], "{report}");
}

#[test]
fn with_pins_warn_changed_and_new_tools_stay_usable_with_a_warning() {
    let fx = Fixture::new("pin-warn");
    fx.stage(1, Some("warn"));
    fx.lock_ok(2);
    let pinned_text = fx.lock_text();

    fx.stage(2, Some("warn"));
    let (report, out) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["add", "echo", "exfiltrate"], "warn lists every tool: {report}");
    assert!(
        report["descriptions"]["add"].as_str().unwrap_or("").contains("<IMPORTANT>"),
        "warn passes the changed definition through: {report}"
    );
    assert_eq!(report["calls"]["add"]["is_error"], json!(false), "a changed tool is callable under warn: {report}");
    assert_eq!(report["calls"]["add"]["text"], json!("5"), "{report}");
    assert_eq!(report["calls"]["exfiltrate"]["is_error"], json!(false), "so is a new one: {report}");
    let stderr = out.stderr();
    assert!(
        stderr.lines().any(|l| {
            let l = l.to_lowercase();
            l.contains("add") && l.contains("pin") && !l.contains("poison")
        }),
        "a pin-mismatch warning naming `add` reaches stderr:{}",
        out.describe()
    );
    assert_eq!(fx.lock_text(), pinned_text, "warn never re-pins");
}

#[test]
fn with_pins_tofu_the_first_run_pins_and_a_later_rug_pull_is_blocked() {
    let fx = Fixture::new("pin-tofu");
    fx.stage(1, Some("tofu"));
    assert!(!fx.lockfile.exists());

    let (report, _) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["add", "echo"], "first use: everything is trusted: {report}");
    assert_eq!(report["calls"]["add"]["text"], json!("5"), "{report}");
    assert!(fx.lockfile.is_file(), "the first run wrote the lockfile {}", fx.lockfile.display());
    let lock = fx.lock_json();
    assert_eq!(names(&pinned(&lock)), ["add", "echo"], "{lock}");
    assert_eq!(definition(&lock, "add")["description"], json!(ADD_V1), "{lock}");
    let pinned_text = fx.lock_text();

    fx.stage(2, Some("tofu"));
    let (report, _) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["echo"], "after first use, changed and new tools are blocked: {report}");
    assert_eq!(report["calls"]["echo"]["text"], json!("still-pinned"), "control: {report}");
    assert_refused_as_unpinned(&report, "add");
    assert_eq!(fx.calls_reached_server(), ["echo"], "{report}");
    assert_eq!(fx.lock_text(), pinned_text, "tofu trusts the first use only: a later run does not re-pin");
}

#[test]
fn re_locking_after_review_accepts_the_new_tools() {
    let fx = Fixture::new("pin-relock");
    fx.stage(1, Some("block"));
    fx.lock_ok(2);
    let old = pinned(&fx.lock_json());

    fx.stage(2, Some("block"));
    assert_code(&fx.diff(), 1, "control: diff sees the rug pull before re-locking");
    fx.lock_ok(3);
    let lock = fx.lock_json();
    let new = pinned(&lock);
    assert_eq!(names(&new), ["add", "echo", "exfiltrate"], "{lock}");
    assert_ne!(new[0].1, old[0].1, "add's pin changed with its description: {lock}");
    assert_eq!(new[1].1, old[1].1, "echo's pin did not: {lock}");

    let out = fx.diff();
    assert_code(&out, 0, "diff after re-locking");
    assert!(out.stdout().contains("no changes"), "{}", out.describe());

    let (report, _) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["add", "echo", "exfiltrate"], "the re-pinned tools are listed: {report}");
    assert_eq!(report["calls"]["add"]["text"], json!("5"), "and callable: {report}");
    assert_eq!(fx.calls_reached_server(), ["echo", "add", "exfiltrate"], "{report}");
}

#[test]
fn diff_reports_a_removed_tool_and_run_still_blocks_the_changed_one() {
    let fx = Fixture::new("pin-removed");
    fx.stage(2, Some("block"));
    fx.lock_ok(3);

    // The server goes back to stage 1: exfiltrate disappears and add's description changes again.
    fx.stage(1, Some("block"));
    let out = fx.diff();
    assert_code(&out, 1, "diff after a tool was removed");
    let mut changes = change_lines(&out);
    changes.sort();
    assert_eq!(changes, ["- exfiltrate", "~ add"], "{}", out.describe());

    let (report, _) = fx.session(&calls());
    assert_eq!(tools_of(&report), ["echo"], "the changed tool is hidden, the removed one is gone: {report}");
    assert_refused_as_unpinned(&report, "add");
}

/// A client that pipelines a call before the tools/list answer has come back must not slip a
/// rug-pulled tool past the pin check: until the relay has seen the tool listed and matching
/// its pin, calls to it are refused. Control: the same call after the list works for an
/// unchanged tool.
#[test]
fn a_call_pipelined_ahead_of_the_tool_list_is_refused_not_trusted() {
    let fx = Fixture::new("pin-pipelined");
    fx.stage(1, None);
    fx.lock_ok(2);
    fx.stage(2, None);
    let _ = std::fs::remove_file(&fx.call_log);
    let lines = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    ];
    let input = format!("{}\n", lines.join("\n"));
    let out = run_cmd(mcpcell_cmd(&["run", s(&fx.profile)]), Some(input.as_bytes()), CELL_TIMEOUT);
    let replies: Vec<Value> = out.stdout().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let early = replies
        .iter()
        .find(|r| r["id"] == 2)
        .unwrap_or_else(|| panic!("no reply to the early call:{}", out.describe()));
    assert!(
        early["error"]["message"].as_str().is_some_and(|m| m.contains("pin")),
        "the early call is refused:{}",
        out.describe()
    );
    assert!(fx.calls_reached_server().is_empty(), "nothing reached the server: {:?}", fx.calls_reached_server());

    // Control: list first, then the unchanged tool is callable.
    let (report, out) = fx.session(&json!([{"name": "echo", "tool": "echo", "arguments": {"message": "hi"}}]));
    assert_eq!(report["calls"]["echo"]["is_error"], json!(false), "listed and unchanged works:{}", out.describe());
}
