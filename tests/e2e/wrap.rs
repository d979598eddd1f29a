//! `mcpcell wrap` on fixture configs of each client kind (tests/fixtures/wrap/CASE/input/):
//! the exact dry-run output, the exact rewritten config and generated profiles after `--write`,
//! the backup, idempotence, secrets moved (values absent everywhere they must not be, file
//! modes), comments preserved, and unknown shapes left unchanged with a warning.
//!
//! Each case's tree is copied to a scratch directory with `@TMP@` replaced by its path; outputs
//! are compared with `@TMP@` put back. MCPCELL_UPDATE_FIXTURES=1 rewrites the expected files
//! (review the diff before committing them).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    tests_dir().join("fixtures/wrap")
}

fn updating() -> bool {
    std::env::var_os("MCPCELL_UPDATE_FIXTURES").is_some()
}

/// Copies `from` to `to`, replacing `@TMP@` in every file with `tmp`.
fn copy_tree(from: &Path, to: &Path, tmp: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest, tmp);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&dest, text.replace("@TMP@", tmp)).unwrap();
            // World-readable, as a client's config usually is: the backup's 0600 must be wrap's
            // doing, not the umask's.
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

/// $PATH with the built mcpcell first, as an installed mcpcell would be.
/// Starts server `name` of a (wrapped) config the way a client would (tests/clients/config_client.py,
/// the Python MCP SDK), makes `calls`, and returns the client's report.
fn start_wrapped_entry(
    config: &Path,
    name: &str,
    calls: &serde_json::Value,
    home: &Path,
    xdg: &Path,
) -> serde_json::Value {
    let mut cmd = Command::new(python());
    cmd.arg(tests_dir().join("clients/config_client.py"))
        .arg(config)
        .arg(name)
        .arg(calls.to_string())
        .env("PATH", path_with_mcpcell())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", xdg);
    let out = run_cmd(cmd, None, std::time::Duration::from_secs(180));
    assert_code(&out, 0, "the Python MCP client starting the wrapped entry");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the client's report is not JSON ({e}):{}", out.describe()))
}

fn path_with_mcpcell() -> String {
    format!("{}:{}", s(&bin_dir()), std::env::var("PATH").unwrap_or_default())
}

struct Case {
    name: &'static str,
    sc: Scratch,
    config: PathBuf,
}

impl Case {
    fn new(name: &'static str, config_rel: &str) -> Case {
        let sc = Scratch::new(&format!("wrap-{name}"));
        copy_tree(&fixtures().join(name).join("input"), &sc.path, s(&sc.path));
        std::fs::create_dir_all(sc.join("home")).unwrap();
        let config = sc.join(config_rel);
        Case { name, sc, config }
    }

    fn xdg(&self) -> PathBuf {
        self.sc.join("xdg")
    }

    fn wrap(&self, extra: &[&str]) -> Out {
        let mut cmd = Command::new(mcpcell());
        cmd.arg("wrap")
            .arg(&self.config)
            .args(extra)
            .env("HOME", self.sc.join("home"))
            .env("XDG_CONFIG_HOME", self.xdg())
            .env("PATH", path_with_mcpcell())
            .env_remove("MCPCELL_LOG");
        run_cmd(cmd, None, CELL_TIMEOUT)
    }

    /// `text` with the scratch path written as `@TMP@`.
    fn portable(&self, text: &str) -> String {
        text.replace(s(&self.sc.path), "@TMP@")
    }

    fn expected_path(&self, rel: &str) -> PathBuf {
        fixtures().join(self.name).join(rel)
    }

    /// Compares `actual` (made portable) with the expected file `rel` of this case.
    fn assert_matches(&self, rel: &str, actual: &str, context: &str) {
        let actual = self.portable(actual);
        let path = self.expected_path(rel);
        if updating() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (MCPCELL_UPDATE_FIXTURES=1 writes it)", path.display()));
        assert!(
            expected == actual,
            "{context}: differs from {}\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n---",
            path.display()
        );
    }

    /// The generated profiles, by file name.
    fn profiles(&self) -> Vec<(String, String)> {
        let dir = self.xdg().join("mcpcell/profiles");
        let mut out: Vec<(String, String)> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| {
                    let e = e.unwrap();
                    (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        out.sort();
        out
    }
}

/// The whole life of one fixture: dry run, write, write again.
fn round_trip(name: &'static str, config_rel: &str, secrets: &[&str]) -> Case {
    let case = Case::new(name, config_rel);
    let original = std::fs::read_to_string(&case.config).unwrap();

    // Dry run: exact output, nothing written.
    let dry = case.wrap(&[]);
    assert_code(&dry, 0, "wrap (dry run)");
    case.assert_matches("dry-run.stdout", &dry.stdout(), "dry-run stdout");
    case.assert_matches("dry-run.stderr", &dry.stderr(), "dry-run stderr");
    assert_eq!(std::fs::read_to_string(&case.config).unwrap(), original, "a dry run changed the config");
    assert!(!case.xdg().exists(), "a dry run created {}", case.xdg().display());

    // Write: exact output, config and profiles; the backup is the original.
    let write = case.wrap(&["--write"]);
    assert_code(&write, 0, "wrap --write");
    case.assert_matches("write.stdout", &write.stdout(), "--write stdout");
    let rewritten = std::fs::read_to_string(&case.config).unwrap();
    case.assert_matches(&format!("expected/{config_rel}"), &rewritten, "the rewritten config");
    let profiles = case.profiles();
    let expected_dir = case.expected_path("expected/profiles");
    if updating() {
        let _ = std::fs::remove_dir_all(&expected_dir);
    }
    for (file, text) in &profiles {
        case.assert_matches(&format!("expected/profiles/{file}"), text, "a generated profile");
    }
    if !updating() {
        let mut expected_names: Vec<String> = std::fs::read_dir(&expected_dir)
            .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        expected_names.sort();
        let names: Vec<&String> = profiles.iter().map(|(n, _)| n).collect();
        assert_eq!(names, expected_names.iter().collect::<Vec<_>>(), "generated profile files");
    }
    let backup = PathBuf::from(format!("{}.mcpcell-backup", case.config.display()));
    if rewritten != original {
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), original, "the backup is the original config");
    } else {
        assert!(!backup.exists(), "no backup when nothing changed");
    }

    // Secrets: in their files (0600, directory 0700), nowhere else.
    for secret in secrets {
        for (what, text) in [
            ("the rewritten config", rewritten.as_str()),
            ("dry-run stdout", &dry.stdout()),
            ("dry-run stderr", &dry.stderr()),
            ("--write stdout", &write.stdout()),
            ("--write stderr", &write.stderr()),
        ] {
            assert!(!text.contains(secret), "a secret value appears in {what}");
        }
        for (file, text) in &profiles {
            assert!(!text.contains(secret), "a secret value appears in profile {file}");
        }
    }
    if !secrets.is_empty() {
        let dir = case.xdg().join("mcpcell/secrets");
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700, "secrets directory mode");
        let mut found = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            assert_eq!(e.metadata().unwrap().permissions().mode() & 0o777, 0o600, "mode of {:?}", e.file_name());
            found.push(std::fs::read_to_string(e.path()).unwrap());
        }
        found.sort();
        let mut want: Vec<String> = secrets.iter().map(|s| format!("{s}\n")).collect();
        want.sort();
        assert_eq!(found, want, "each moved secret is in exactly one file");
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o077,
            0,
            "the backup holds the secrets: only its owner may read it"
        );
    }

    // Again: nothing to change, nothing written, no second backup.
    let again = case.wrap(&["--write"]);
    assert_code(&again, 0, "wrap --write, a second time");
    assert!(again.stdout().contains("Nothing to change"), "second run:{}", again.describe());
    assert_eq!(std::fs::read_to_string(&case.config).unwrap(), rewritten, "a second run changed the config");
    assert_eq!(case.profiles(), profiles, "a second run changed the profiles");
    assert!(!PathBuf::from(format!("{}.1", backup.display())).exists(), "a second run made another backup");
    case
}

/// `mcpcell check` (which also checks that granted paths and extended profiles exist) on every
/// generated profile, exactly as generated (`[server] package` included).
fn check_generated(case: &Case) {
    let profiles = case.profiles();
    assert!(!profiles.is_empty(), "wrap generated profiles");
    for (file, _text) in profiles {
        let spec = file.trim_end_matches(".toml").to_string();
        let mut cmd = Command::new(mcpcell());
        cmd.arg("check").arg(&spec).env("HOME", case.sc.join("home")).env("XDG_CONFIG_HOME", case.xdg());
        let out = run_cmd(cmd, None, CELL_TIMEOUT);
        assert_code(&out, 0, &format!("mcpcell check of the generated {file}"));
        assert!(!out.stderr().contains("warning"), "check of {file} warns:{}", out.describe());
    }
}

#[test]
fn claude_desktop() {
    let case =
        round_trip("claude-desktop", "claude_desktop_config.json", &["ghp_wrapFixtureTokenAbcdefghijklmnopqrstuv"]);
    check_generated(&case);
}

#[test]
fn cursor() {
    let case = round_trip("cursor", ".cursor/mcp.json", &["sk-proj-wrapFixtureKey0123456789"]);
    check_generated(&case);
}

#[test]
fn vscode_keeps_comments() {
    let case = round_trip("vscode", ".vscode/mcp.json", &["xoxb-wrap-fixture-0123456789"]);
    let rewritten = std::fs::read_to_string(&case.config).unwrap();
    for comment in [
        "// Servers for this workspace.",
        "/* The reference memory server, pinned. */",
        "// keep this comment",
        "// filled in by VS Code when it starts the server",
    ] {
        assert!(rewritten.contains(comment), "comment {comment:?} lost:\n{rewritten}");
    }
    check_generated(&case);
}

#[test]
fn claude_code() {
    // The postgres server's password is in its arguments: that server stays as it was, and the
    // password must still never be printed.
    let case = round_trip("claude-code", ".mcp.json", &[]);
    let fresh = Case::new("claude-code", ".mcp.json");
    let out = fresh.wrap(&[]);
    assert!(!out.stdout().contains("hunter2hunter2") && !out.stderr().contains("hunter2hunter2"), "{}", out.describe());
    check_generated(&case);
}

#[test]
fn unknown_shape_is_left_unchanged_with_a_warning() {
    for config in [".vscode/mcp.json", "other/settings.json"] {
        let case = Case::new("unknown-shape", config);
        let original = std::fs::read_to_string(&case.config).unwrap();
        for extra in [&[][..], &["--write"]] {
            let out = case.wrap(extra);
            assert_code(&out, 0, "wrap of an unknown shape");
            assert!(
                out.stderr().contains("mcpcell: warning:") && out.stderr().contains("left unchanged"),
                "{}",
                out.describe()
            );
            assert_eq!(std::fs::read_to_string(&case.config).unwrap(), original);
            assert!(!case.xdg().exists());
            assert!(!PathBuf::from(format!("{}.mcpcell-backup", case.config.display())).exists());
        }
    }
}

#[test]
fn write_refuses_to_overwrite_a_different_profile_unless_forced() {
    let case = Case::new("claude-desktop", "claude_desktop_config.json");
    let original = std::fs::read_to_string(&case.config).unwrap();
    let mine = case.xdg().join("mcpcell/profiles/memory.toml");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "extends = \"memory\"\n# my own edits\n").unwrap();

    let dry = case.wrap(&[]);
    assert_code(&dry, 0, "dry run");
    assert!(dry.stdout().contains(&format!("CONFLICT  {}", mine.display())), "{}", dry.describe());

    let refused = case.wrap(&["--write"]);
    assert_code(&refused, 125, "wrap --write over a different profile");
    assert!(refused.stderr().contains(s(&mine)) && refused.stderr().contains("--force"), "{}", refused.describe());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "extends = \"memory\"\n# my own edits\n");
    assert_eq!(std::fs::read_to_string(&case.config).unwrap(), original, "nothing written when refusing");
    assert!(!case.xdg().join("mcpcell/secrets").exists(), "nothing written when refusing");

    let forced = case.wrap(&["--write", "--force"]);
    assert_code(&forced, 0, "wrap --write --force");
    assert!(std::fs::read_to_string(&mine).unwrap().starts_with("# Generated by `mcpcell wrap`"));
}

#[test]
fn an_existing_different_backup_is_kept() {
    let case = Case::new("claude-desktop", "claude_desktop_config.json");
    let original = std::fs::read_to_string(&case.config).unwrap();
    let old_backup = PathBuf::from(format!("{}.mcpcell-backup", case.config.display()));
    std::fs::write(&old_backup, "{\"an\": \"older backup\"}\n").unwrap();
    let out = case.wrap(&["--write"]);
    assert_code(&out, 0, "wrap --write");
    assert_eq!(std::fs::read_to_string(&old_backup).unwrap(), "{\"an\": \"older backup\"}\n");
    let next = PathBuf::from(format!("{}.1", old_backup.display()));
    assert_eq!(std::fs::read_to_string(&next).unwrap(), original);
    assert!(out.stdout().contains(s(&next)), "{}", out.describe());
}

#[test]
fn a_missing_mcpcell_on_path_is_a_warning() {
    let case = Case::new("claude-desktop", "claude_desktop_config.json");
    let mut cmd = Command::new(mcpcell());
    cmd.arg("wrap")
        .arg(&case.config)
        .env("HOME", case.sc.join("home"))
        .env("XDG_CONFIG_HOME", case.xdg())
        .env("PATH", "/nonexistent");
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_code(&out, 0, "wrap with mcpcell not on PATH");
    assert!(out.stderr().contains("no `mcpcell` on PATH"), "{}", out.describe());
    // Control: with mcpcell on PATH (every other test), the dry run's stderr is exactly the
    // fixture's, which has no such warning.
    assert!(!case.wrap(&[]).stderr().contains("on PATH"));
}

#[test]
fn a_symlinked_config_stays_a_symlink() {
    let case = Case::new("claude-desktop", "claude_desktop_config.json");
    let real = case.sc.join("dotfiles/claude.json");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::rename(&case.config, &real).unwrap();
    std::os::unix::fs::symlink(&real, &case.config).unwrap();
    let out = case.wrap(&["--write"]);
    assert_code(&out, 0, "wrap --write through a symlink");
    assert!(std::fs::symlink_metadata(&case.config).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("\"args\": [\"run\", \"memory\"]"));
}

/// End to end: a Claude-Desktop-style config running the npm memory server with `npx -y`
/// (installed globally by scripts/test) is wrapped, and a real MCP client (the Python SDK,
/// tests/clients/config_client.py) starts the rewritten entry exactly as a client would —
/// `mcpcell run memory` found on PATH — and uses the server in its cell.
#[test]
fn wrapped_config_runs_the_npm_memory_server_with_a_real_client() {
    let sc = Scratch::new("wrap-e2e");
    let home = sc.dir("home");
    let config = sc.file(
        "claude_desktop_config.json",
        "{\n  \"mcpServers\": {\n    \"memory\": {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"@modelcontextprotocol/server-memory\"]\n    }\n  }\n}\n",
    );
    let mut cmd = Command::new(mcpcell());
    cmd.args(["wrap", s(&config), "--write"]).env("HOME", &home).env("XDG_CONFIG_HOME", sc.join("xdg"));
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_code(&out, 0, "wrap --write");
    let rewritten: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(rewritten["mcpServers"]["memory"], serde_json::json!({"command": "mcpcell", "args": ["run", "memory"]}));

    let calls = serde_json::json!([
        {"name": "create", "tool": "create_entities", "arguments": {"entities": [
            {"name": "wrap-e2e-entity", "entityType": "test", "observations": ["made through a wrapped config"]}
        ]}},
        {"name": "read", "tool": "read_graph", "arguments": {}},
    ]);
    let report = start_wrapped_entry(&config, "memory", &calls, &home, &sc.join("xdg"));
    assert_eq!(report["command"], serde_json::json!(["mcpcell", "run", "memory"]));
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
    assert!(tools.contains(&"create_entities") && tools.contains(&"read_graph"), "{report:#}");
    assert_eq!(report["calls"]["create"]["is_error"], false, "{report:#}");
    let graph = report["calls"]["read"]["text"].as_str().unwrap_or("");
    assert!(graph.contains("wrap-e2e-entity") && graph.contains("made through a wrapped config"), "{report:#}");
}

/// End to end, the interpreter path: a Claude Code `.mcp.json` starting mcp-server-fetch with a
/// virtualenv's `python -m mcp_server_fetch` (the venv scripts/test makes on /usr/bin/python3) is
/// wrapped — the generated profile grants the venv read-only and nothing else — and a real MCP
/// client starts the rewritten entry and lists the server's tools.
#[test]
fn wrapped_python_module_server_runs_with_a_real_client() {
    let venv = std::env::var_os("MCPCELL_TEST_FETCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| tests_dir().join(".venv-fetch"));
    assert!(
        venv.join("bin/mcp-server-fetch").is_file(),
        "mcp-server-fetch is missing from {}: run scripts/test (or set MCPCELL_TEST_FETCH_VENV)",
        venv.display()
    );
    let sc = Scratch::new("wrap-e2e-python");
    let home = sc.dir("home");
    let config = sc.file(
        ".mcp.json",
        &format!(
            "{{\"mcpServers\": {{\"fetch\": {{\"command\": \"{}\", \"args\": [\"-m\", \"mcp_server_fetch\"]}}}}}}\n",
            s(&venv.join("bin/python"))
        ),
    );
    let mut cmd = Command::new(mcpcell());
    cmd.args(["wrap", s(&config), "--write"])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", sc.join("xdg"))
        .env("PATH", path_with_mcpcell());
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_code(&out, 0, "wrap --write");
    let profile = std::fs::read_to_string(sc.join("xdg/mcpcell/profiles/fetch.toml")).unwrap();
    assert!(profile.contains(&format!("read = [\"{}\"]", s(&venv))), "{profile}");
    assert!(!profile.contains("\n[network]"), "no network unless asked:\n{profile}");

    let report = start_wrapped_entry(&config, "fetch", &serde_json::json!([]), &home, &sc.join("xdg"));
    assert_eq!(report["command"], serde_json::json!(["mcpcell", "run", "fetch"]));
    assert_eq!(report["tools"], serde_json::json!(["fetch"]), "{report:#}");
}
