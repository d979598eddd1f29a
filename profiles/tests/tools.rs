//! `[tools]` and `[audit]`: parsing, defaults, validation, merging, and `glob_match`.

use std::fs;
use std::path::{Path, PathBuf};

use mcpcell_profiles::{
    glob_match, parse_str, Audit, LoadContext, Origin, PinMode, PoisonAction, Profile, ToolPolicy,
    DEFAULT_AUDIT_MAX_BYTES, DEFAULT_MAX_MESSAGE_BYTES,
};

fn ctx() -> LoadContext {
    LoadContext { home: PathBuf::from("/home/u"), profile_dirs: Vec::new(), check_paths: false }
}

fn parse(text: &str) -> Profile {
    parse_str(text, Origin::File(PathBuf::from("p.toml")), &ctx()).unwrap_or_else(|e| panic!("{e}"))
}

const CMD: &str = "[server]\ncommand = \"srv\"\n";

/// `CMD` followed by `rest`, parsed.
fn with_cmd(rest: &str) -> Profile {
    parse(&format!("{CMD}{rest}"))
}

/// The error for `CMD` followed by `rest`: errors in `rest` start on line 3.
fn error(rest: &str) -> String {
    match parse_str(&format!("{CMD}{rest}"), Origin::File(PathBuf::from("p.toml")), &ctx()) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn policy(allow: &[&str], deny: &[&str]) -> ToolPolicy {
    ToolPolicy { allow: strings(allow), deny: strings(deny), ..ToolPolicy::default() }
}

#[test]
fn parses_both_tables() {
    let p = with_cmd(
        r#"
[tools]
allow = ["read_*", "list_directory"]
deny = ["write_file"]
confirm = ["write_*", "delete_file"]
read_only = true
on_poisoned = "block"
pins = "warn"
max_message_bytes = "4MiB"
call_timeout_secs = 60
calls_per_minute = 120
tool_calls_per_minute = 30

[audit]
file = "~/.local/state/mcpcell/audit.jsonl"
max_bytes = "10MiB"
"#,
    );
    assert_eq!(
        p.tools,
        ToolPolicy {
            inspect: true,
            allow: strings(&["read_*", "list_directory"]),
            deny: strings(&["write_file"]),
            confirm: strings(&["write_*", "delete_file"]),
            read_only: true,
            on_poisoned: PoisonAction::Block,
            pins: PinMode::Warn,
            max_message_bytes: 4 << 20,
            call_timeout_secs: Some(60),
            calls_per_minute: Some(120),
            tool_calls_per_minute: Some(30),
        }
    );
    assert_eq!(
        p.audit,
        Audit { file: Some(PathBuf::from("/home/u/.local/state/mcpcell/audit.jsonl")), max_bytes: 10 << 20 }
    );
    assert!(p.tools.is_configured());
}

#[test]
fn on_poisoned_warn_and_integer_sizes() {
    let p = with_cmd("[tools]\non_poisoned = \"warn\"\nmax_message_bytes = 1024\n");
    assert_eq!(p.tools.on_poisoned, PoisonAction::Warn);
    assert_eq!(p.tools.max_message_bytes, 1024);
    assert!(p.tools.is_configured(), "writing any [tools] key asks for the relay");
    let p = with_cmd("[tools]\nmax_message_bytes = \"1GiB\"\n");
    assert_eq!(p.tools.max_message_bytes, 1 << 30);
}

#[test]
fn defaults() {
    let p = with_cmd("");
    assert_eq!(p.tools, ToolPolicy::default());
    assert_eq!(p.tools.allow, Vec::<String>::new());
    assert_eq!(p.tools.deny, Vec::<String>::new());
    assert_eq!(p.tools.confirm, Vec::<String>::new());
    assert!(!p.tools.read_only);
    assert!(!p.tools.needs_confirmation("write_file"));
    assert_eq!(p.tools.on_poisoned, PoisonAction::Warn);
    assert_eq!(p.tools.pins, PinMode::Block);
    assert_eq!(PinMode::default(), PinMode::Block);
    assert_eq!(p.tools.max_message_bytes, 16 << 20);
    assert_eq!(DEFAULT_MAX_MESSAGE_BYTES, 16 << 20);
    assert!(!p.tools.is_configured());
    assert_eq!(p.audit, Audit::default());
    assert_eq!(p.audit.file, None);
    assert_eq!(p.tools.call_timeout_secs, None);
    assert_eq!(p.tools.calls_per_minute, None);
    assert_eq!(p.tools.tool_calls_per_minute, None);
    assert_eq!(p.audit.max_bytes, 10 << 20);
    assert_eq!(DEFAULT_AUDIT_MAX_BYTES, 10 << 20);
    // Empty tables are the same as absent ones.
    assert_eq!(with_cmd("[tools]\n[audit]\n"), p);
}

#[test]
fn is_configured() {
    assert!(!ToolPolicy::default().is_configured());
    assert!(policy(&["a"], &[]).is_configured());
    assert!(policy(&[], &["a"]).is_configured());
    assert!(ToolPolicy { on_poisoned: PoisonAction::Block, ..ToolPolicy::default() }.is_configured());
    assert!(!ToolPolicy { max_message_bytes: 1024, ..ToolPolicy::default() }.is_configured());
    assert!(ToolPolicy { pins: PinMode::Warn, ..ToolPolicy::default() }.is_configured());
    assert!(ToolPolicy { pins: PinMode::Tofu, ..ToolPolicy::default() }.is_configured());
    assert!(!ToolPolicy { pins: PinMode::Block, ..ToolPolicy::default() }.is_configured());
}

#[test]
fn pins_values() {
    for (text, mode) in [("block", PinMode::Block), ("warn", PinMode::Warn), ("tofu", PinMode::Tofu)] {
        let p = with_cmd(&format!("[tools]\npins = \"{text}\"\n"));
        assert_eq!(p.tools.pins, mode);
        assert!(p.tools.inspect, "pins = {text:?} is a [tools] key");
        // Even the default value asks for the relay once written down.
        assert!(p.tools.is_configured(), "pins = {text:?}");
        assert_eq!(p.tools, ToolPolicy { inspect: true, pins: mode, ..ToolPolicy::default() });
    }
}

#[test]
fn bad_pins() {
    assert_eq!(
        error("[tools]\npins = \"trust-on-first-use\"\n"),
        "p.toml:4:8: tools.pins \"trust-on-first-use\" is not a pin mode; use \"block\", \"warn\" or \"tofu\""
    );
    assert_eq!(
        error("[tools]\npins = 1\n"),
        "p.toml:4:8: tools.pins: expected a string, found an integer; put the value in quotes"
    );
}

#[test]
fn confirm_and_read_only_set_inspect() {
    let p = with_cmd("[tools]\nread_only = false\n");
    assert_eq!(p.tools, ToolPolicy { inspect: true, ..ToolPolicy::default() });
    assert!(p.tools.is_configured(), "writing read_only asks for the relay");
    let p = with_cmd("[tools]\nconfirm = []\n");
    assert_eq!(p.tools, ToolPolicy { inspect: true, ..ToolPolicy::default() });
    let p = with_cmd("[tools]\nread_only = true\nconfirm = [\"delete_?ile\"]\n");
    assert!(p.tools.read_only);
    assert_eq!(p.tools.confirm, strings(&["delete_?ile"]));
    assert!(ToolPolicy { read_only: true, ..ToolPolicy::default() }.is_configured());
    assert!(ToolPolicy { confirm: strings(&["x"]), ..ToolPolicy::default() }.is_configured());
}

#[test]
fn needs_confirmation() {
    let p = ToolPolicy { confirm: strings(&["write_*", "delete_file"]), ..ToolPolicy::default() };
    assert!(p.needs_confirmation("write_file"));
    assert!(p.needs_confirmation("write_"));
    assert!(p.needs_confirmation("delete_file"));
    assert!(!p.needs_confirmation("delete_files"));
    assert!(!p.needs_confirmation("read_file"));
    assert!(!p.needs_confirmation("rewrite_file"));
    assert!(!ToolPolicy::default().needs_confirmation("write_file"));
    // Independent of allow/deny: confirmation only adds a step for tools that are allowed.
    let p = ToolPolicy { confirm: strings(&["*"]), ..policy(&["a"], &[]) };
    assert!(p.needs_confirmation("b"));
    assert!(!p.allows("b"));
}

#[test]
fn bad_confirm_and_read_only() {
    assert_eq!(
        error("[tools]\nread_only = \"yes\"\n"),
        "p.toml:4:13: tools.read_only: expected a boolean (true or false), found a string"
    );
    assert_eq!(
        error("[tools]\nconfirm = \"write_*\"\n"),
        "p.toml:4:11: tools.confirm: expected an array, found a string"
    );
    assert_eq!(
        error("[tools]\nconfirm = [\"a\", 3]\n"),
        "p.toml:4:17: tools.confirm[1]: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(
        error("[tools]\nconfirm = [\"\"]\n"),
        "p.toml:4:12: tools.confirm[0] is empty; write a tool name or a glob like \"read_*\""
    );
}

#[test]
fn confirm_and_read_only_merge() {
    let dir = scratch("confirm");
    write(&dir, "base.toml", "[server]\ncommand = \"srv\"\n[tools]\nconfirm = [\"write_*\"]\nread_only = true\n");
    let load = |name: &str, text: &str| load_file(&write(&dir, name, text)).unwrap_or_else(|e| panic!("{e}"));
    // Inherited when the child does not set them.
    let p = load("inherit.toml", "extends = \"base.toml\"\n[tools]\ndeny = [\"x\"]\n");
    assert_eq!(p.tools.confirm, strings(&["write_*"]));
    assert!(p.tools.read_only);
    assert!(p.tools.inspect);
    // The child wins; its confirm list replaces the parent's whole.
    let p = load("child.toml", "extends = \"base.toml\"\n[tools]\nconfirm = [\"delete_file\"]\nread_only = false\n");
    assert_eq!(p.tools.confirm, strings(&["delete_file"]));
    assert!(!p.tools.read_only);
    assert!(!p.tools.needs_confirmation("write_file"));
    // An explicit empty array clears the parent's list.
    let p = load("clear.toml", "extends = \"base.toml\"\n[tools]\nconfirm = []\n");
    assert!(p.tools.confirm.is_empty());
    assert!(p.tools.read_only);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn pins_merge() {
    let dir = scratch("pins");
    write(&dir, "base.toml", "[server]\ncommand = \"srv\"\n[tools]\npins = \"tofu\"\n");
    let load = |name: &str, text: &str| load_file(&write(&dir, name, text)).unwrap_or_else(|e| panic!("{e}"));
    // Inherited when the child does not set it, and the inherited key still counts as set.
    let p = load("inherit.toml", "extends = \"base.toml\"\n");
    assert_eq!(p.tools.pins, PinMode::Tofu);
    assert!(p.tools.inspect);
    // The child wins.
    let p = load("child.toml", "extends = \"base.toml\"\n[tools]\npins = \"block\"\n");
    assert_eq!(p.tools.pins, PinMode::Block);
    assert!(p.tools.inspect);
    // Another [tools] key in the child keeps the parent's pins.
    let p = load("other.toml", "extends = \"base.toml\"\n[tools]\ndeny = [\"x\"]\n");
    assert_eq!(p.tools.pins, PinMode::Tofu);
}

#[test]
fn timeout_and_rate_limits() {
    for key in ["call_timeout_secs", "calls_per_minute", "tool_calls_per_minute"] {
        let p = with_cmd(&format!("[tools]\n{key} = 1\n"));
        assert!(p.tools.inspect, "{key} is a [tools] key");
        assert!(p.tools.is_configured(), "{key}");
    }
    let p = with_cmd("[tools]\ncall_timeout_secs = 86400\ncalls_per_minute = 100000\ntool_calls_per_minute = 100000\n");
    assert_eq!(p.tools.call_timeout_secs, Some(86_400));
    assert_eq!(p.tools.calls_per_minute, Some(100_000));
    assert_eq!(p.tools.tool_calls_per_minute, Some(100_000));
    assert_eq!(
        p.tools,
        ToolPolicy {
            inspect: true,
            call_timeout_secs: Some(86_400),
            calls_per_minute: Some(100_000),
            tool_calls_per_minute: Some(100_000),
            ..ToolPolicy::default()
        }
    );
}

#[test]
fn bad_timeout_and_rate_limits() {
    let timeout = "use a number of seconds from 1 to 86400, or leave it out for no timeout";
    assert_eq!(
        error("[tools]\ncall_timeout_secs = 0\n"),
        format!("p.toml:4:21: tools.call_timeout_secs = 0 is out of range; {timeout}")
    );
    assert_eq!(
        error("[tools]\ncall_timeout_secs = 86401\n"),
        format!("p.toml:4:21: tools.call_timeout_secs = 86401 is out of range; {timeout}")
    );
    assert_eq!(
        error("[tools]\ncall_timeout_secs = -1\n"),
        format!("p.toml:4:21: tools.call_timeout_secs = -1 is out of range; {timeout}")
    );
    assert_eq!(
        error("[tools]\ncall_timeout_secs = \"60s\"\n"),
        "p.toml:4:21: tools.call_timeout_secs: expected an integer, found a string"
    );
    let rate = "use a number of calls from 1 to 100000, or leave it out for no limit";
    for key in ["calls_per_minute", "tool_calls_per_minute"] {
        let col = key.len() + 4;
        assert_eq!(
            error(&format!("[tools]\n{key} = 0\n")),
            format!("p.toml:4:{col}: tools.{key} = 0 is out of range; {rate}")
        );
        assert_eq!(
            error(&format!("[tools]\n{key} = 100001\n")),
            format!("p.toml:4:{col}: tools.{key} = 100001 is out of range; {rate}")
        );
        assert_eq!(
            error(&format!("[tools]\n{key} = 1.5\n")),
            format!("p.toml:4:{col}: tools.{key}: expected an integer, found a float")
        );
    }
}

#[test]
fn audit_max_bytes() {
    let p = with_cmd("[audit]\nmax_bytes = 4096\n");
    assert_eq!(p.audit, Audit { file: None, max_bytes: 4096 });
    // Alone it does not ask for the relay's tool inspection.
    assert!(!p.tools.inspect);
    assert_eq!(with_cmd("[audit]\nmax_bytes = \"1TiB\"\n").audit.max_bytes, 1 << 40);
    assert_eq!(with_cmd("[audit]\nmax_bytes = \"64 MiB\"\n").audit.max_bytes, 64 << 20);
    let range = "is out of range; use a size from 4KiB to 1TiB";
    assert_eq!(error("[audit]\nmax_bytes = 0\n"), format!("p.toml:4:13: audit.max_bytes = 0 {range}"));
    assert_eq!(error("[audit]\nmax_bytes = \"4095B\"\n"), format!("p.toml:4:13: audit.max_bytes = \"4095B\" {range}"));
    assert_eq!(error("[audit]\nmax_bytes = \"2TiB\"\n"), format!("p.toml:4:13: audit.max_bytes = \"2TiB\" {range}"));
    assert_eq!(
        error("[audit]\nmax_bytes = \"10MB\"\n"),
        "p.toml:4:13: audit.max_bytes \"10MB\": unit \"MB\" is ambiguous; sizes are binary, write \"MiB\""
    );
    assert_eq!(
        error("[audit]\nmax_bytes = true\n"),
        "p.toml:4:13: audit.max_bytes: expected a size (a string like \"512MiB\" or a number of bytes), found a boolean"
    );
}

#[test]
fn timeout_rate_limits_and_max_bytes_merge() {
    let dir = scratch("limits");
    write(
        &dir,
        "base.toml",
        "[server]\ncommand = \"srv\"\n[tools]\ncall_timeout_secs = 60\ncalls_per_minute = 120\ntool_calls_per_minute = 30\n[audit]\nmax_bytes = \"1MiB\"\n",
    );
    let load = |name: &str, text: &str| load_file(&write(&dir, name, text)).unwrap_or_else(|e| panic!("{e}"));
    // Inherited when the child does not set them, and the inherited keys still count as set.
    let p = load("inherit.toml", "extends = \"base.toml\"\n");
    assert_eq!(p.tools.call_timeout_secs, Some(60));
    assert_eq!(p.tools.calls_per_minute, Some(120));
    assert_eq!(p.tools.tool_calls_per_minute, Some(30));
    assert_eq!(p.audit.max_bytes, 1 << 20);
    assert!(p.tools.inspect);
    // The child wins, key by key.
    let p = load("child.toml", "extends = \"base.toml\"\n[tools]\ncalls_per_minute = 10\n[audit]\nmax_bytes = 8192\n");
    assert_eq!(p.tools.call_timeout_secs, Some(60));
    assert_eq!(p.tools.calls_per_minute, Some(10));
    assert_eq!(p.tools.tool_calls_per_minute, Some(30));
    assert_eq!(p.audit.max_bytes, 8192);
    // Only the child sets one: the rest stay at their defaults.
    let dir2 = scratch("limits-only-child");
    write(&dir2, "base.toml", "[server]\ncommand = \"srv\"\n");
    let p = load_file(&write(&dir2, "child.toml", "extends = \"base.toml\"\n[tools]\ncall_timeout_secs = 5\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.tools.call_timeout_secs, Some(5));
    assert_eq!(p.tools.calls_per_minute, None);
    assert_eq!(p.audit.max_bytes, DEFAULT_AUDIT_MAX_BYTES);
    assert!(p.tools.inspect);
}

#[test]
fn glob_match_table() {
    let cases: &[(&str, &str, bool)] = &[
        // Exact.
        ("read_file", "read_file", true),
        ("read_file", "read_files", false),
        ("read_file", "read_fil", false),
        ("read_file", "Read_file", false),
        // `*`.
        ("*", "", true),
        ("*", "anything", true),
        ("**", "x", true),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYY", false),
        ("*a*a*", "banana", true),
        ("*ab", "aab", true),
        // `?`.
        ("?", "a", true),
        ("?", "", false),
        ("?", "ab", false),
        ("read_?ile", "read_file", true),
        ("??", "ab", true),
        ("?*", "", false),
        ("?*", "a", true),
        // Prefix and suffix.
        ("read_*", "read_file", true),
        ("read_*", "read_", true),
        ("read_*", "write_file", false),
        ("*_file", "write_file", true),
        ("*_file", "write_files", false),
        ("*_*", "list_directory", true),
        ("*_*", "list", false),
        // Empty name and empty pattern.
        ("", "", true),
        ("", "a", false),
        ("a", "", false),
        // Nothing else is special.
        ("[ab]", "a", false),
        ("[ab]", "[ab]", true),
        ("a.c", "abc", false),
        ("a\\*", "a\\xyz", true),
        ("{a,b}", "a", false),
        // Unicode: `?` is one character, not one byte.
        ("é", "é", true),
        ("?", "é", true),
        ("??", "é", false),
        ("caf?", "café", true),
        ("*ü*", "grüße", true),
        ("工具_*", "工具_读", true),
        ("工具_?", "工具_读取", false),
        ("🔧*", "🔧tool", true),
    ];
    for &(pattern, name, want) in cases {
        assert_eq!(glob_match(pattern, name), want, "glob_match({pattern:?}, {name:?})");
    }
}

#[test]
fn glob_match_is_linear_enough() {
    // Many stars against a long non-matching name must not blow up.
    let pattern = "*a".repeat(20) + "b";
    let name = "a".repeat(5000);
    assert!(!glob_match(&pattern, &name));
}

#[test]
fn allows_allow_only() {
    let p = policy(&["read_*", "list_directory"], &[]);
    assert!(p.allows("read_file"));
    assert!(p.allows("read_multiple_files"));
    assert!(p.allows("list_directory"));
    assert!(!p.allows("list_directory_tree"));
    assert!(!p.allows("write_file"));
    assert!(!p.allows(""));
}

#[test]
fn allows_deny_only() {
    let p = policy(&[], &["write_*", "delete_file"]);
    assert!(p.allows("read_file"));
    assert!(p.allows(""));
    assert!(!p.allows("write_file"));
    assert!(!p.allows("delete_file"));
    assert!(p.allows("delete_files"));
}

#[test]
fn allows_empty_policy_allows_everything() {
    let p = ToolPolicy::default();
    assert!(p.allows("anything"));
    assert!(p.allows(""));
}

#[test]
fn allows_both_deny_wins() {
    let p = policy(&["*_file"], &["write_*"]);
    assert!(p.allows("read_file"));
    assert!(!p.allows("write_file"), "deny wins over allow");
    assert!(!p.allows("list_directory"), "not allowed");
    let p = policy(&["*"], &["*"]);
    assert!(!p.allows("read_file"));
}

#[test]
fn unknown_keys_have_locations() {
    assert_eq!(
        error("[tools]\nallow = []\n  alow = []\n"),
        "p.toml:5:3: unknown key \"alow\" in [tools]; expected one of: allow, deny, confirm, read_only, on_poisoned, pins, max_message_bytes, call_timeout_secs, calls_per_minute, tool_calls_per_minute"
    );
    assert_eq!(
        error("[audit]\npath = \"/var/log/a.jsonl\"\n"),
        "p.toml:4:1: unknown key \"path\" in [audit]; expected one of: file, max_bytes"
    );
    assert_eq!(
        error("[tools]\nextends = \"x\"\n"),
        "p.toml:4:1: unknown key \"extends\" in [tools]; expected one of: allow, deny, confirm, read_only, on_poisoned, pins, max_message_bytes, call_timeout_secs, calls_per_minute, tool_calls_per_minute (\"extends\" is a top-level key: move it above the first [table] header)"
    );
}

#[test]
fn bad_on_poisoned() {
    assert_eq!(
        error("[tools]\non_poisoned = \"deny\"\n"),
        "p.toml:4:15: tools.on_poisoned \"deny\" is not an action; use \"warn\" or \"block\""
    );
    assert_eq!(
        error("[tools]\non_poisoned = true\n"),
        "p.toml:4:15: tools.on_poisoned: expected a string, found a boolean; put the value in quotes"
    );
}

#[test]
fn wrong_types() {
    let top = |text: &str| parse_str(text, Origin::File(PathBuf::from("p.toml")), &ctx()).unwrap_err().to_string();
    assert_eq!(
        top("tools = 1\n[server]\ncommand = \"srv\"\n"),
        "p.toml:1:9: tools: expected a table, found an integer"
    );
    assert_eq!(
        top("audit = \"x\"\n[server]\ncommand = \"srv\"\n"),
        "p.toml:1:9: audit: expected a table, found a string"
    );
    // Written after [server], it lands there: the hint says to move it.
    assert_eq!(
        error("tools = 1\n"),
        "p.toml:3:1: unknown key \"tools\" in [server]; expected one of: command, package, install_scripts, i_mean_it, args, env, cwd (\"tools\" is a top-level key: move it above the first [table] header)"
    );
    assert_eq!(error("[tools]\nallow = \"read_*\"\n"), "p.toml:4:9: tools.allow: expected an array, found a string");
    assert_eq!(
        error("[tools]\ndeny = [\"a\", 3]\n"),
        "p.toml:4:14: tools.deny[1]: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(
        error("[audit]\nfile = false\n"),
        "p.toml:4:8: audit.file: expected a string, found a boolean; put the value in quotes"
    );
    assert_eq!(
        error("[tools]\nmax_message_bytes = 1.5\n"),
        "p.toml:4:21: tools.max_message_bytes: expected a size (a string like \"512MiB\" or a number of bytes), found a float"
    );
}

#[test]
fn bad_values() {
    assert_eq!(
        error("[tools]\nallow = [\"\"]\n"),
        "p.toml:4:10: tools.allow[0] is empty; write a tool name or a glob like \"read_*\""
    );
    assert_eq!(
        error("[tools]\ndeny = [\"ok\", \"a\\tb\"]\n"),
        "p.toml:4:15: tools.deny[1] contains the control or invisible character U+0009; tool names and globs are printable text"
    );
    assert_eq!(
        error("[tools]\nallow = [\"read\\u200B_*\"]\n"),
        "p.toml:4:10: tools.allow[0] contains the control or invisible character U+200B; tool names and globs are printable text"
    );
    assert_eq!(
        error("[tools]\nmax_message_bytes = \"512\"\n"),
        "p.toml:4:21: tools.max_message_bytes = \"512\" is out of range; use a size from 1KiB to 1GiB"
    );
    assert_eq!(
        error("[tools]\nmax_message_bytes = \"2GiB\"\n"),
        "p.toml:4:21: tools.max_message_bytes = \"2GiB\" is out of range; use a size from 1KiB to 1GiB"
    );
    assert_eq!(
        error("[tools]\nmax_message_bytes = \"16MB\"\n"),
        "p.toml:4:21: tools.max_message_bytes \"16MB\": unit \"MB\" is ambiguous; sizes are binary, write \"MiB\""
    );
    assert_eq!(
        error("[audit]\nfile = \"audit.jsonl\"\n"),
        "p.toml:4:8: audit.file: path \"audit.jsonl\" is relative; write an absolute path or one starting with \"~/\""
    );
    assert_eq!(
        error("[audit]\nfile = \"~/logs/\"\n"),
        "p.toml:4:8: audit.file names a directory; name a file, like \"~/.local/state/mcpcell/audit.jsonl\""
    );
}

#[test]
fn both_allowed_and_denied() {
    assert_eq!(
        error("[tools]\nallow = [\"read_*\", \"write_file\"]\ndeny = [\"write_file\"]\n"),
        "p.toml:5:9: tool pattern \"write_file\" is both allowed and denied; remove it from [tools] allow or deny (deny wins, so allowing it has no effect)"
    );
    // Overlapping but different patterns are fine: deny wins at run time.
    let p = with_cmd("[tools]\nallow = [\"*\"]\ndeny = [\"write_file\"]\n");
    assert!(!p.tools.allows("write_file"));
}

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpcell-profiles-tools-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn load_file(path: &Path) -> Result<Profile, mcpcell_profiles::ProfileError> {
    mcpcell_profiles::load(path.to_str().unwrap(), &ctx())
}

#[test]
fn extends_merges_tables_key_by_key_and_replaces_arrays() {
    let dir = scratch("merge");
    write(
        &dir,
        "base.toml",
        r#"
[server]
command = "srv"
[tools]
allow = ["read_*", "list_*"]
deny = ["read_secret"]
on_poisoned = "block"
max_message_bytes = "2MiB"
[audit]
file = "/var/log/base.jsonl"
"#,
    );
    let child = write(&dir, "child.toml", "extends = \"base.toml\"\n[tools]\nallow = [\"search\"]\n");
    let p = load_file(&child).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.tools,
        ToolPolicy {
            inspect: true,
            allow: strings(&["search"]),
            deny: strings(&["read_secret"]),
            confirm: vec![],
            read_only: false,
            on_poisoned: PoisonAction::Block,
            pins: PinMode::Block,
            max_message_bytes: 2 << 20,
            call_timeout_secs: None,
            calls_per_minute: None,
            tool_calls_per_minute: None,
        }
    );
    assert_eq!(p.audit.file, Some(PathBuf::from("/var/log/base.jsonl")));

    // An explicit empty array clears the parent's list; scalars override one by one.
    let child = write(
        &dir,
        "child2.toml",
        "extends = \"base.toml\"\n[tools]\ndeny = []\non_poisoned = \"warn\"\n[audit]\nfile = \"~/a.jsonl\"\n",
    );
    let p = load_file(&child).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.tools.allow, strings(&["read_*", "list_*"]));
    assert!(p.tools.deny.is_empty());
    assert_eq!(p.tools.on_poisoned, PoisonAction::Warn);
    assert_eq!(p.tools.max_message_bytes, 2 << 20);
    assert_eq!(p.audit.file, Some(PathBuf::from("/home/u/a.jsonl")));

    // The allow/deny clash is checked on the merged result and points at the child's entry.
    let child = write(&dir, "child3.toml", "extends = \"base.toml\"\n[tools]\ndeny = [\"list_*\"]\n");
    let err = load_file(&child).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3:9: tool pattern \"list_*\" is both allowed and denied; remove it from [tools] allow or deny (deny wins, so allowing it has no effect)",
            child.display()
        )
    );
    let _ = fs::remove_dir_all(&dir);
}
