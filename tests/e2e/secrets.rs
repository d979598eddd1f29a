//! Secrets: delivered to the server, never printed, and redacted when the server sends them back.
//! No assertion message here ever shows a secret value: outputs are scrubbed before printing.

mod common;

use common::*;
use serde_json::json;

const ENV_SECRET: &str = "canary-env-secret-4f1d2c";
const CMD_SECRET: &str = "canary-cmd-secret-9e7a33";

fn scrub(text: &str) -> String {
    text.replace(ENV_SECRET, "<LEAKED ENV SECRET>").replace(CMD_SECRET, "<LEAKED CMD SECRET>")
}

#[test]
fn a_server_echoing_its_environment_gets_the_secret_redacted() {
    std::env::set_var("MCPCELL_TEST_ENV_SECRET", ENV_SECRET);
    let sc = Scratch::new("secrets-everything");
    let profile = sc.file(
        "everything.toml",
        "[server]\ncommand = \"mcp-server-everything\"\n\n\
         [secrets.API_TOKEN]\nsource = \"env:MCPCELL_TEST_ENV_SECRET\"\n",
    );
    let (report, out) = mcp_session(&profile, &json!([{"name": "env", "tool": "get-env", "arguments": {}}]), None);
    let text = report["calls"]["env"]["text"].as_str().unwrap_or("").to_string();
    assert!(!text.contains(ENV_SECRET), "the secret came back unredacted: {}", scrub(&text));
    assert!(text.contains("[REDACTED:API_TOKEN]"), "the secret was delivered and redacted: {}", scrub(&text));
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(!all.contains(ENV_SECRET), "the secret reached the test output: {}", scrub(&all));
}

#[test]
fn a_command_sourced_secret_is_delivered_and_redacted_from_raw_output() {
    let sc = Scratch::new("secrets-command");
    let profile = sc.file(
        "env.toml",
        &format!(
            "[server]\ncommand = \"/usr/bin/env\"\n\n[secrets.API_TOKEN]\nsource = \"command\"\n\
             command = [\"/usr/bin/printf\", \"{CMD_SECRET}\"]\n"
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "run of /usr/bin/env with a command-sourced secret");
    let stdout = out.stdout();
    assert!(
        stdout.contains("API_TOKEN=[REDACTED:API_TOKEN]"),
        "delivered as env, redacted on the way out: {}",
        scrub(&stdout)
    );
    assert!(!format!("{stdout}{}", out.stderr()).contains(CMD_SECRET), "{}", scrub(&stdout));
}

#[test]
fn secrets_check_reports_each_secret_without_its_value() {
    std::env::set_var("MCPCELL_TEST_ENV_SECRET", ENV_SECRET);
    let sc = Scratch::new("secrets-check");
    let good = sc.file(
        "good.toml",
        &format!(
            "[server]\ncommand = \"x\"\n\n[secrets.A]\nsource = \"env:MCPCELL_TEST_ENV_SECRET\"\n\n\
             [secrets.B]\nsource = \"command\"\ncommand = [\"/usr/bin/printf\", \"{CMD_SECRET}\"]\n"
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["secrets", "check", s(&good)]), None, CELL_TIMEOUT);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert_code(&out, 0, "secrets check with resolvable secrets");
    assert!(all.contains("ok      A") && all.contains("ok      B"), "{}", scrub(&all));
    assert!(!all.contains(ENV_SECRET) && !all.contains(CMD_SECRET), "a value was printed: {}", scrub(&all));

    let bad = sc.file(
        "bad.toml",
        "[server]\ncommand = \"/bin/true\"\n\n[secrets.MISSING]\nsource = \"env:MCPCELL_TEST_NOT_SET_ANYWHERE\"\n\n\
         [secrets.FAILS]\nsource = \"command\"\ncommand = [\"/bin/false\"]\n",
    );
    let out = run_cmd(mcpcell_cmd(&["secrets", "check", s(&bad)]), None, CELL_TIMEOUT);
    assert_code(&out, 1, "secrets check with unresolvable secrets");
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        all.contains("MISSING") && all.contains("MCPCELL_TEST_NOT_SET_ANYWHERE"),
        "names the secret and source: {all}"
    );
    assert!(all.contains("FAILS") && all.contains("/bin/false"), "names the command: {all}");

    // And a start with an unresolvable secret is refused (no half-configured server).
    let out = run_cmd(mcpcell_cmd(&["run", s(&bad)]), None, CELL_TIMEOUT);
    assert_code(&out, 125, "run with an unresolvable secret");
    let err = out.stderr();
    assert!(
        err.contains("secret MISSING") || err.contains("secret FAILS"),
        "the refusal names a secret:{}",
        out.describe()
    );
}
