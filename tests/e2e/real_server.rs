//! A real MCP server from npm (@modelcontextprotocol/server-filesystem) told it may serve `/`,
//! inside a cell granting one read-only and one read-write directory, driven by a real MCP client
//! (the Python `mcp` SDK, tests/clients/filesystem_client.py). What the server believes it may do
//! does not matter: the cell decides.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const GRANTED_TEXT: &str = "hello from the granted directory\n";
const CANARY_TEXT: &str = "canary-content-that-must-not-cross-the-cell";

struct Fixture {
    sc: Scratch,
    profile: std::path::PathBuf,
    home: std::path::PathBuf,
}

fn fixture(server_toml: &str) -> Fixture {
    let sc = Scratch::new("real-server");
    let ro = sc.dir("ro");
    let rw = sc.dir("rw");
    sc.file("ro/granted.txt", GRANTED_TEXT);
    sc.file("secret/canary.txt", CANARY_TEXT);
    let home = sc.dir("home");
    sc.file("home/.ssh/id_rsa", CANARY_TEXT);
    let profile = sc.file(
        "profile.toml",
        &format!("{server_toml}\n[filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n", ro.display(), rw.display()),
    );
    Fixture { sc, profile, home }
}

const FILESYSTEM_SERVER: &str = "[server]\ncommand = \"mcp-server-filesystem\"\nargs = [\"/\"]\n";

fn run_client(fx: &Fixture, calls: &Value) -> (Value, Out) {
    mcp_session(&fx.profile, calls, Some(&fx.home))
}

#[test]
fn filesystem_server_serving_root_sees_only_the_grants() {
    serving_root_sees_only_the_grants(FILESYSTEM_SERVER);
}

/// The same session through the MCP-aware relay (any [tools] key turns it on): the server works
/// unchanged, and the cell still decides.
#[test]
fn filesystem_server_works_unchanged_through_the_relay() {
    serving_root_sees_only_the_grants(&format!("{FILESYSTEM_SERVER}\n[tools]\non_poisoned = \"warn\"\n"));
}

fn serving_root_sees_only_the_grants(server_toml: &str) {
    let fx = fixture(server_toml);
    let p = |rel: &str| fx.sc.join(rel).display().to_string();
    let host_tmp_canary = std::path::PathBuf::from(format!("/tmp/mcpcell-e2e-{}.txt", unique("canary")));
    std::fs::write(&host_tmp_canary, CANARY_TEXT).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _rm = Rm(host_tmp_canary.clone());

    let calls = json!([
        {"name": "read_granted", "tool": "read_text_file", "arguments": {"path": p("ro/granted.txt")}},
        {"name": "read_canary", "tool": "read_text_file", "arguments": {"path": p("secret/canary.txt")}},
        {"name": "read_tmp_canary", "tool": "read_text_file", "arguments": {"path": host_tmp_canary.display().to_string()}},
        {"name": "read_ssh_key", "tool": "read_text_file", "arguments": {"path": p("home/.ssh/id_rsa")}},
        {"name": "read_shadow", "tool": "read_text_file", "arguments": {"path": "/etc/shadow"}},
        {"name": "list_parent", "tool": "list_directory", "arguments": {"path": fx.sc.path.display().to_string()}},
        {"name": "write_ro", "tool": "write_file", "arguments": {"path": p("ro/new.txt"), "content": "must not land"}},
        {"name": "overwrite_ro", "tool": "write_file", "arguments": {"path": p("ro/granted.txt"), "content": "must not land"}},
        {"name": "write_rw", "tool": "write_file", "arguments": {"path": p("rw/new.txt"), "content": "written through MCP"}},
    ]);
    let (report, out) = run_client(&fx, &calls);
    let ctx = out.describe();
    let call = |name: &str| -> (bool, String) {
        let c = &report["calls"][name];
        (
            c["is_error"].as_bool().unwrap_or_else(|| panic!("no result for {name}:{ctx}")),
            c["text"].as_str().unwrap_or("").to_string(),
        )
    };

    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tools.contains(&"read_text_file") && tools.contains(&"write_file"), "tools listed: {tools:?}");

    // Positive control: the granted file is readable through the tool.
    let (err, text) = call("read_granted");
    assert!(
        !err && text == GRANTED_TEXT,
        "reading the granted file through MCP failed: is_error={err} text={text:?}{ctx}"
    );

    for name in ["read_canary", "read_tmp_canary", "read_ssh_key", "read_shadow"] {
        let (err, text) = call(name);
        assert!(err, "ESCAPE: {name} succeeded through the server (it may serve `/`, the cell must not let it){ctx}");
        assert!(!text.contains(CANARY_TEXT), "ESCAPE: {name} returned the host canary{ctx}");
    }
    let (err, text) = call("list_parent");
    assert!(err || !text.contains("secret"), "listing the grant's parent shows the ungranted sibling: {text:?}{ctx}");

    let (err, _) = call("write_ro");
    assert!(err, "ESCAPE: write_file into the read-only grant succeeded{ctx}");
    assert!(!fx.sc.join("ro/new.txt").exists(), "ESCAPE: a file appeared in the read-only grant on the host");
    let (err, _) = call("overwrite_ro");
    assert!(err, "ESCAPE: overwriting a file in the read-only grant succeeded{ctx}");
    assert_eq!(
        std::fs::read_to_string(fx.sc.join("ro/granted.txt")).unwrap(),
        GRANTED_TEXT,
        "the read-only file changed on the host"
    );

    // Positive control for writes: the write grant works and lands on the host.
    let (err, text) = call("write_rw");
    assert!(!err, "write_file into the write grant failed: {text:?}{ctx}");
    assert_eq!(
        std::fs::read_to_string(fx.sc.join("rw/new.txt")).ok().as_deref(),
        Some("written through MCP"),
        "the write through MCP did not reach the host"
    );
}

fn tools_output(fx: &Fixture) -> Out {
    let mut cmd = mcpcell_cmd(&["tools", s(&fx.profile)]);
    cmd.env("HOME", &fx.home);
    run_cmd(cmd, None, Duration::from_secs(120))
}

#[test]
fn tools_command_lists_the_filesystem_servers_tools() {
    let fx = fixture(FILESYSTEM_SERVER);
    let out = tools_output(&fx);
    assert_code(&out, 0, "mcpcell tools on the filesystem server profile");
    for t in ["read_text_file", "write_file", "list_directory"] {
        assert!(out.stdout().contains(t), "`mcpcell tools` does not list {t}:{}", out.describe());
    }
}

#[test]
fn tools_command_lists_the_memory_servers_tools() {
    let fx = fixture("[server]\ncommand = \"mcp-server-memory\"\n");
    let out = tools_output(&fx);
    assert_code(&out, 0, "mcpcell tools on the memory server profile");
    for t in ["create_entities", "read_graph"] {
        assert!(out.stdout().contains(t), "`mcpcell tools` does not list {t}:{}", out.describe());
    }
}

#[test]
fn tools_command_lists_the_everything_servers_tools() {
    let fx = fixture("[server]\ncommand = \"mcp-server-everything\"\nargs = [\"stdio\"]\n");
    let out = tools_output(&fx);
    assert_code(&out, 0, "mcpcell tools on the everything server profile");
    assert!(out.stdout().contains("echo"), "`mcpcell tools` does not list echo:{}", out.describe());
}
