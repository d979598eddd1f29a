//! The CLI contract: `check` diagnostics for each class of bad profile, `profiles`, `explain`,
//! `doctor --json`, `run` with a profile file, and egress flags validated before anything runs.

mod common;

use common::*;
use std::path::Path;

/// Writes a profile file into `sc` and returns its path.
fn profile(sc: &Scratch, name: &str, toml: &str) -> std::path::PathBuf {
    sc.file(name, toml)
}

/// Asserts `mcpcell check FILE` fails with exit 1 and a `FILE:LINE:COLUMN: message` diagnostic on
/// the expected line whose message mentions every word of `mentions`.
#[track_caller]
fn assert_check_error(file: &Path, line: usize, mentions: &[&str]) {
    let out = mcpcell_run(&["check", s(file)]);
    assert_code(&out, 1, &format!("check of an invalid profile ({})", file.display()));
    let prefix = format!("{}:", file.display());
    let diag = out.stderr().lines().find(|l| l.starts_with(&prefix)).map(str::to_string);
    let Some(diag) = diag else {
        panic!("no `{prefix}LINE:COLUMN: message` line on stderr:{}", out.describe());
    };
    let rest = &diag[prefix.len()..];
    let mut parts = rest.splitn(3, ':');
    let l = parts.next().unwrap_or("");
    let c = parts.next().unwrap_or("");
    let msg = parts.next().unwrap_or("");
    assert_eq!(l.parse::<usize>().ok(), Some(line), "wrong line number in `{diag}`:{}", out.describe());
    assert!(c.parse::<usize>().is_ok_and(|c| c >= 1), "no column number in `{diag}`:{}", out.describe());
    assert!(msg.starts_with(' ') && msg.trim().len() > 5, "no message after `file:line:column:` in `{diag}`");
    for m in mentions {
        assert!(
            out.stderr().to_lowercase().contains(&m.to_lowercase()),
            "the diagnostic should mention {m:?}:{}",
            out.describe()
        );
    }
}

#[test]
fn check_accepts_a_valid_profile() {
    let sc = Scratch::new("check-ok");
    let data = sc.dir("data");
    let p = profile(
        &sc,
        "ok.toml",
        &format!(
            "[server]\ncommand = \"/bin/cat\"\nargs = [\"-u\"]\n\n[filesystem]\nread = [\"{}\"]\n\n[limits]\npids = 32\n",
            data.display()
        ),
    );
    let out = mcpcell_run(&["check", s(&p)]);
    assert_code(&out, 0, "check of a valid profile");
    let out = mcpcell_run(&["check", s(&p), s(&p)]);
    assert_code(&out, 0, "check of two valid profiles");
}

#[test]
fn check_rejects_an_unknown_key() {
    let sc = Scratch::new("check-unknown");
    let p = profile(&sc, "unknown-key.toml", "[server]\ncommand = \"/bin/cat\"\ncomand_typo = \"x\"\n");
    assert_check_error(&p, 3, &["comand_typo"]);
}

#[test]
fn check_rejects_an_unknown_section() {
    let sc = Scratch::new("check-section");
    let p = profile(&sc, "unknown-section.toml", "[server]\ncommand = \"/bin/cat\"\n\n[filesytem]\nread = []\n");
    assert_check_error(&p, 4, &["filesytem"]);
}

#[test]
fn check_rejects_a_wrong_type() {
    let sc = Scratch::new("check-type");
    let p = profile(&sc, "wrong-type.toml", "[server]\ncommand = \"/bin/cat\"\nargs = \"not-a-list\"\n");
    assert_check_error(&p, 3, &["args"]);
}

#[test]
fn check_rejects_a_bad_host() {
    let sc = Scratch::new("check-host");
    let p = profile(
        &sc,
        "bad-host.toml",
        "[server]\ncommand = \"/bin/cat\"\n\n[network]\negress = [\"not a host!:443\"]\n",
    );
    assert_check_error(&p, 5, &["not a host!"]);
}

#[test]
fn check_rejects_a_bad_port() {
    let sc = Scratch::new("check-port");
    let p = profile(
        &sc,
        "bad-port.toml",
        "[server]\ncommand = \"/bin/cat\"\n\n[network]\negress = [\"example.com:99999\"]\n",
    );
    assert_check_error(&p, 5, &["99999"]);
}

#[test]
fn check_rejects_a_missing_path() {
    let sc = Scratch::new("check-path");
    let missing = format!("/nonexistent-{}", unique("path"));
    let p = profile(
        &sc,
        "missing-path.toml",
        &format!("[server]\ncommand = \"/bin/cat\"\n\n[filesystem]\nread = [\"{missing}\"]\n"),
    );
    assert_check_error(&p, 5, &[&missing]);
}

#[test]
fn check_rejects_toml_syntax_errors() {
    let sc = Scratch::new("check-syntax");
    let p = profile(&sc, "syntax.toml", "[server]\ncommand = \"/bin/cat\nargs = []\n");
    assert_check_error(&p, 2, &[]);
}

#[test]
fn check_rejects_a_missing_command() {
    let sc = Scratch::new("check-nocmd");
    let p = profile(&sc, "no-command.toml", "[server]\nargs = [\"x\"]\n");
    assert_check_error(&p, 1, &["command"]);
}

#[test]
fn check_reports_only_the_invalid_file_among_several() {
    let sc = Scratch::new("check-many");
    let good = profile(&sc, "good.toml", "[server]\ncommand = \"/bin/cat\"\n");
    let bad = profile(&sc, "bad.toml", "[server]\ncommand = \"/bin/cat\"\nbogus = 1\n");
    let out = mcpcell_run(&["check", s(&good), s(&bad)]);
    assert_code(&out, 1, "check of one valid and one invalid profile");
    assert!(out.stderr().contains(&format!("{}:3:", bad.display())), "{}", out.describe());
    assert!(!out.stderr().contains(&format!("{}:", good.display())), "the valid file was reported:{}", out.describe());
}

/// The builtin names printed by `mcpcell profiles` that `check` accepts.
fn builtin_names() -> Vec<String> {
    let out = mcpcell_run(&["profiles"]);
    assert_code(&out, 0, "mcpcell profiles");
    let names: Vec<String> = out
        .stdout()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .filter(|n| mcpcell_run(&["check", n]).code() == 0)
        .collect();
    assert!(!names.is_empty(), "`mcpcell profiles` lists no name that `mcpcell check` accepts:{}", out.describe());
    names
}

#[test]
fn profiles_lists_builtins_that_check_and_explain() {
    for name in builtin_names() {
        let out = mcpcell_run(&["explain", &name]);
        assert_code(&out, 0, &format!("explain of the builtin {name}"));
        assert!(!out.stdout().trim().is_empty(), "explain printed nothing for {name}:{}", out.describe());
    }
}

#[test]
fn explain_mentions_granted_paths_and_limits() {
    let sc = Scratch::new("explain");
    let ro = sc.dir("readable-dir");
    let rw = sc.dir("writable-dir");
    let p = profile(
        &sc,
        "explain.toml",
        &format!(
            "[server]\ncommand = \"/bin/cat\"\n\n[filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n",
            ro.display(),
            rw.display()
        ),
    );
    let out = mcpcell_run(&["explain", s(&p)]);
    assert_code(&out, 0, "explain of a valid profile");
    let text = out.stdout();
    assert!(text.contains(s(&ro)) && text.contains(s(&rw)), "explain must name both granted paths:{}", out.describe());
}

#[test]
fn doctor_json_reports_landlock() {
    let out = mcpcell_run(&["doctor", "--json"]);
    assert_code(&out, 0, "doctor --json on this host");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}):{}", out.describe()));
    fn has_key(v: &serde_json::Value, needle: &str) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                m.iter().any(|(k, v)| k.to_lowercase().contains(needle) || has_key(v, needle))
            }
            serde_json::Value::Array(a) => a.iter().any(|v| has_key(v, needle)),
            _ => false,
        }
    }
    assert!(has_key(&v, "landlock"), "doctor --json has no landlock field:{}", out.describe());
    assert!(has_key(&v, "user"), "doctor --json says nothing about user namespaces:{}", out.describe());
    let human = mcpcell_run(&["doctor"]);
    assert_code(&human, 0, "doctor");
}

#[test]
fn egress_flags_are_validated_before_anything_runs() {
    let out = Cell::bare().flag("--allow-host", "10.0.0.1:443").run("/bin/echo", &["should not run"], None);
    assert_code(&out, 125, "exec --allow-host with an IP address");
    assert!(out.stderr().contains("hosts must be names"), "the refusal says why:{}", out.describe());
    assert!(!out.stdout().contains("should not run"), "the command ran:{}", out.describe());
}

#[test]
fn a_profile_with_egress_gets_the_dns_stub_and_one_without_gets_none() {
    let sc = Scratch::new("egress");
    let with = profile(
        &sc,
        "egress.toml",
        "[server]\ncommand = \"/bin/cat\"\nargs = [\"/etc/resolv.conf\"]\n\n[network]\negress = [\"api.github.com:443\"]\n",
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&with)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "run of a profile with [network] egress");
    assert!(out.stdout().contains("nameserver 127.0.0.1"), "the stub is the resolver:{}", out.describe());
    let without = profile(&sc, "none.toml", "[server]\ncommand = \"/bin/cat\"\nargs = [\"/etc/resolv.conf\"]\n");
    let out = run_cmd(mcpcell_cmd(&["run", s(&without)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "run of a profile without egress");
    assert!(!out.stdout().contains("nameserver"), "no resolver at all without egress:{}", out.describe());
}

#[test]
fn run_a_profile_file_with_extra_args() {
    let sc = Scratch::new("run");
    let p = profile(&sc, "echo.toml", "[server]\ncommand = \"/bin/echo\"\nargs = [\"from-profile\"]\n");
    let out = run_cmd(mcpcell_cmd(&["run", s(&p), "--", "from-cli"]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "run of a profile file");
    assert_eq!(out.stdout(), "from-profile from-cli\n", "args of the profile then the CLI's:{}", out.describe());
}

#[test]
fn run_relays_stdin_through_a_profile() {
    let sc = Scratch::new("run-cat");
    let p = profile(&sc, "cat.toml", "[server]\ncommand = \"/bin/cat\"\n");
    let input = b"{\"jsonrpc\":\"2.0\",\"id\":1}\n\xff\x00 tail";
    let out = run_cmd(mcpcell_cmd(&["run", s(&p)]), Some(input), CELL_TIMEOUT);
    assert_code(&out, 0, "run of a cat profile");
    assert_eq!(out.stdout, input, "bytes through `mcpcell run`:{}", out.describe());
}

#[test]
fn run_applies_profile_filesystem_grants() {
    let sc = Scratch::new("run-fs");
    let ro = sc.dir("ro");
    let f = sc.file("ro/data.txt", "through the profile\n");
    let hidden = sc.file("hidden/secret.txt", "canary\n");
    let p = profile(
        &sc,
        "fs.toml",
        &format!(
            "[server]\ncommand = \"/bin/cat\"\nargs = [\"{}\"]\n\n[filesystem]\nread = [\"{}\"]\n",
            f.display(),
            ro.display()
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&p)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "cat of a granted file through a profile");
    assert_eq!(out.stdout(), "through the profile\n");
    let p2 = profile(
        &sc,
        "fs2.toml",
        &format!(
            "[server]\ncommand = \"/bin/cat\"\nargs = [\"{}\"]\n\n[filesystem]\nread = [\"{}\"]\n",
            hidden.display(),
            ro.display()
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&p2)]), None, CELL_TIMEOUT);
    assert_ne!(out.code(), 0, "cat of an ungranted file must fail:{}", out.describe());
    assert!(!out.stdout().contains("canary"), "the ungranted file's content leaked:{}", out.describe());
}

// ============================================================================== fail closed

/// `mcpcell ARGS` started by the probe's `without FEATURE`, which makes the feature look absent
/// to mcpcell (a seccomp filter answering its syscalls as a kernel without it would).
fn without(feature: &str, args: &[&str]) -> Out {
    let mut cmd = std::process::Command::new(probe());
    cmd.args(["without", feature, "--"]).arg(mcpcell()).args(args);
    run_cmd(cmd, None, CELL_TIMEOUT)
}

#[test]
fn a_missing_layer_refuses_the_start() {
    let marker = "the-command-ran";
    let echo = ["exec", "--", "/bin/echo", marker];
    // Control: with nothing hidden the same command runs.
    let out = without("none-hidden-control", &echo);
    assert_eq!(out.code(), 2, "the probe refuses an unknown feature name:{}", out.describe());
    let out = mcpcell_run(&echo);
    assert_code(&out, 0, "the control: exec with every layer present");
    assert!(out.stdout().contains(marker), "{}", out.describe());

    // No Landlock: refused, with the fix, and the command never ran.
    let out = without("landlock", &echo);
    assert_code(&out, 125, "exec on a host without Landlock");
    assert!(out.stderr().contains("Landlock is required but not available"), "{}", out.describe());
    assert!(out.stderr().contains("landlock_min_abi"), "the refusal names the relaxation:{}", out.describe());
    assert!(!out.stdout().contains(marker), "ESCAPE: the command ran without Landlock:{}", out.describe());
    // ...unless the profile relaxes it explicitly (and explain says so).
    let sc = Scratch::new("fail-closed");
    let relaxed = profile(
        &sc,
        "relaxed",
        &format!("[server]\ncommand = \"/bin/echo\"\nargs = [\"{marker}\"]\n[sandbox]\nlandlock_min_abi = 0\n"),
    );
    let out = without("landlock", &["run", s(&relaxed)]);
    assert_code(&out, 0, "an explicit landlock_min_abi = 0 on a host without Landlock");
    assert!(out.stdout().contains(marker), "{}", out.describe());
    let explained = without("landlock", &["explain", s(&relaxed)]);
    assert!(explained.stdout().contains("OPTIONAL per profile"), "{}", explained.describe());
    assert!(explained.stdout().contains("NOT available on this host"), "{}", explained.describe());

    // No user namespaces: refused with the fix, never run unconfined.
    let out = without("userns", &echo);
    assert_code(&out, 125, "exec on a host without user namespaces");
    assert!(out.stderr().contains("user namespaces is required but not available"), "{}", out.describe());
    assert!(out.stderr().contains("or use the container backend"), "{}", out.describe());
    assert!(!out.stdout().contains(marker), "ESCAPE: the command ran without user namespaces:{}", out.describe());
    // The suggested fix works: the container backend needs no user namespace of the launcher's.
    let out = without("userns", &["exec", "--backend", "container", "--", "/bin/echo", marker]);
    assert_code(&out, 0, "the container backend on a host without user namespaces");
    assert!(out.stdout().contains(marker), "{}", out.describe());
}
