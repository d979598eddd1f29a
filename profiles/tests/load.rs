//! Parsing results, defaults, merging, `extends` and loading from disk.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mcpcell_profiles::{
    builtins, json_schema, load, parse_size, parse_str, Audit, Backend, EgressRule, HostPattern, Limits, LoadContext,
    Origin, PathGrant, PinMode, PoisonAction, Profile, ProfileError, Sandbox, SecretDelivery, SecretSource, ToolPolicy,
};

fn ctx() -> LoadContext {
    LoadContext { home: PathBuf::from("/home/u"), profile_dirs: Vec::new(), check_paths: false }
}

fn parse(text: &str) -> Profile {
    parse_str(text, Origin::File(PathBuf::from("p.toml")), &ctx()).unwrap_or_else(|e| panic!("{e}"))
}

fn grant(path: &str, optional: bool) -> PathGrant {
    PathGrant { path: PathBuf::from(path), optional }
}

fn rule(host: HostPattern, port: u16) -> EgressRule {
    EgressRule { host, port, allow_private: false }
}

fn private(host: HostPattern, port: u16) -> EgressRule {
    EgressRule { host, port, allow_private: true }
}

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpcell-profiles-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn minimal_profile_gets_defaults() {
    let p = parse("[server]\ncommand = \"srv\"\n");
    assert_eq!(
        p,
        Profile {
            name: "p".into(),
            origin: Origin::File(PathBuf::from("p.toml")),
            extends: vec![],
            description: None,
            server: mcpcell_profiles::Server { command: "srv".into(), ..Default::default() },
            filesystem: Default::default(),
            network: Default::default(),
            secrets: vec![],
            limits: Limits {
                memory_bytes: 2 << 30,
                pids: 512,
                cpu_seconds: None,
                file_size_bytes: 1 << 30,
                open_files: 1024,
                tmpfs_bytes: 256 << 20,
            },
            sandbox: Sandbox { backend: Backend::Jail, landlock_min_abi: 1, shutdown_grace_ms: 2000, image: None },
            tools: ToolPolicy {
                inspect: false,
                allow: vec![],
                deny: vec![],
                confirm: vec![],
                read_only: false,
                on_poisoned: PoisonAction::Warn,
                pins: PinMode::Block,
                max_message_bytes: 16 << 20,
                call_timeout_secs: None,
                calls_per_minute: None,
                tool_calls_per_minute: None,
            },
            audit: Audit { file: None, max_bytes: 10 << 20 },
        }
    );
}

#[test]
fn full_profile() {
    let p = parse(
        r#"
description = "demo"
[server]
command = "/usr/bin/srv"
args = ["~/not-expanded", "--x"]
env = { LOG_LEVEL = "info" }
cwd = "~/project/./src/.."
[filesystem]
read = ["~/docs/", { path = "~/maybe", optional = true }, "/opt/../srv//data"]
write = ["~"]
[network]
egress = ["API.GitHub.com.", "api.github.com:8443", "*.Example.com", "api.github.com:443"]
[secrets.GITHUB_TOKEN]
source = "env:GH_TOKEN"
env = "GITHUB_PERSONAL_ACCESS_TOKEN"
[secrets.OTHER]
source = "file:~/.config/x/token"
[limits]
memory = "512MiB"
pids = 64
cpu_seconds = 60
file_size = 1048576
open_files = 256
tmpfs_size = "64M"
[sandbox]
backend = "container"
landlock_min_abi = 0
shutdown_grace_ms = 0
"#,
    );
    assert_eq!(p.description.as_deref(), Some("demo"));
    assert_eq!(p.server.command, "/usr/bin/srv");
    assert_eq!(p.server.args, ["~/not-expanded", "--x"]);
    assert_eq!(p.server.env, BTreeMap::from([("LOG_LEVEL".to_string(), "info".to_string())]));
    assert_eq!(p.server.cwd, Some(PathBuf::from("/home/u/project")));
    assert_eq!(
        p.filesystem.read,
        [grant("/home/u/docs", false), grant("/home/u/maybe", true), grant("/srv/data", false)]
    );
    assert_eq!(p.filesystem.write, [grant("/home/u", false)]);
    assert_eq!(
        p.network.egress,
        [
            rule(HostPattern::Exact("api.github.com".into()), 443),
            rule(HostPattern::Exact("api.github.com".into()), 8443),
            rule(HostPattern::Subdomains("example.com".into()), 443),
        ],
        "lower-cased, trailing dot stripped, default port 443, duplicates dropped"
    );
    assert_eq!(p.secrets.len(), 2);
    assert_eq!(p.secrets[0].name, "GITHUB_TOKEN");
    assert_eq!(p.secrets[0].source, SecretSource::Env("GH_TOKEN".into()));
    assert_eq!(p.secrets[0].delivery, SecretDelivery::Env("GITHUB_PERSONAL_ACCESS_TOKEN".into()));
    assert_eq!(p.secrets[1].source, SecretSource::File(PathBuf::from("/home/u/.config/x/token")));
    assert_eq!(p.secrets[1].delivery, SecretDelivery::Env("OTHER".into()), "delivery defaults to the name");
    assert_eq!(
        p.limits,
        Limits {
            memory_bytes: 512 << 20,
            pids: 64,
            cpu_seconds: Some(60),
            file_size_bytes: 1 << 20,
            open_files: 256,
            tmpfs_bytes: 64 << 20
        }
    );
    assert_eq!(
        p.sandbox,
        Sandbox { backend: Backend::Container, landlock_min_abi: 0, shutdown_grace_ms: 0, image: None }
    );
}

#[test]
fn tilde_uses_ctx_home() {
    let c = LoadContext { home: PathBuf::from("/srv/someone/"), ..ctx() };
    let p = parse_str("[server]\ncommand = \"x\"\n[filesystem]\nread = [\"~\", \"~/a/b/../c\"]\n", Origin::AdHoc, &c)
        .unwrap();
    assert_eq!(p.filesystem.read, [grant("/srv/someone", false), grant("/srv/someone/a/c", false)]);
    assert_eq!(p.name, "exec");
}

#[test]
fn narrower_grants_nest_and_duplicates_collapse() {
    let p = parse(
        "[server]\ncommand = \"x\"\n[filesystem]\nread = [\"~/p/docs\", { path = \"/a\", optional = true }, \"/a/\"]\nwrite = [\"~/p\", \"~/r/out\"]\n",
    );
    assert_eq!(p.filesystem.read, [grant("/home/u/p/docs", false), grant("/a", false)]);
    assert_eq!(p.filesystem.write, [grant("/home/u/p", false), grant("/home/u/r/out", false)]);
}

#[test]
fn egress_table_entries() {
    let p = parse(
        r#"[server]
command = "x"
[network]
egress = [
    { host = "DB.Internal.", port = 5432, allow_private = true },
    { host = "api.example.com" },
    { host = "*.lan.example.com", allow_private = false },
    { allow_private = true, host = "nas.home.arpa:8080" },
    "plain.example.com:8443",
    { host = "plain.example.com", port = 8443 },
    { host = "db.internal:5432", allow_private = true },
]
"#,
    );
    assert_eq!(
        p.network.egress,
        [
            private(HostPattern::Exact("db.internal".into()), 5432),
            rule(HostPattern::Exact("api.example.com".into()), 443),
            rule(HostPattern::Subdomains("lan.example.com".into()), 443),
            private(HostPattern::Exact("nas.home.arpa".into()), 8080),
            rule(HostPattern::Exact("plain.example.com".into()), 8443),
        ],
        "default port 443, allow_private defaults to false, identical duplicates dropped in either form"
    );
    assert_eq!(p.network.egress[0].to_string(), "db.internal:5432", "Display stays host:port");
}

#[test]
fn egress_parse_private() {
    assert_eq!(
        EgressRule::parse_private("db.internal:5432"),
        Ok(private(HostPattern::Exact("db.internal".into()), 5432))
    );
    assert_eq!(
        EgressRule::parse_private("*.Lan.Example.com"),
        Ok(private(HostPattern::Subdomains("lan.example.com".into()), 443))
    );
    assert_eq!("db.internal".parse::<EgressRule>().map(|r| r.allow_private), Ok(false));
    assert_eq!(
        EgressRule::parse_private("10.0.0.5:5432"),
        Err("egress entry \"10.0.0.5:5432\": hosts must be names, not IP addresses; write the hostname".to_string())
    );
}

#[test]
fn egress_parsing() {
    let cases = [
        ("example.com", HostPattern::Exact("example.com".into()), 443),
        ("example.com:1", HostPattern::Exact("example.com".into()), 1),
        ("example.com:65535", HostPattern::Exact("example.com".into()), 65535),
        ("*.example.com", HostPattern::Subdomains("example.com".into()), 443),
        ("*.Sub.Example.COM.:5432", HostPattern::Subdomains("sub.example.com".into()), 5432),
        ("localhost", HostPattern::Exact("localhost".into()), 443),
        ("xn--bcher-kva.de", HostPattern::Exact("xn--bcher-kva.de".into()), 443),
        ("1password.com", HostPattern::Exact("1password.com".into()), 443),
    ];
    for (entry, host, port) in cases {
        assert_eq!(entry.parse::<EgressRule>(), Ok(rule(host, port)), "{entry}");
    }
    let r: EgressRule = "*.example.com:8443".parse().unwrap();
    assert_eq!(r.to_string(), "*.example.com:8443");
    assert!(r.host.matches("a.example.com"));
    assert!(r.host.matches("A.b.Example.com."));
    assert!(!r.host.matches("example.com"));
    assert!(!r.host.matches("badexample.com"));
    let exact = HostPattern::Exact("example.com".into());
    assert!(exact.matches("EXAMPLE.com."));
    assert!(!exact.matches("a.example.com"));
}

#[test]
fn size_table() {
    let ok = [
        ("0", 0),
        ("1", 1),
        ("100k", 100 << 10),
        ("100K", 100 << 10),
        ("100KiB", 100 << 10),
        ("512MiB", 512 << 20),
        ("512M", 512 << 20),
        ("512 MiB", 512 << 20),
        ("1G", 1 << 30),
        ("2GiB", 2 << 30),
        ("1TiB", 1 << 40),
        ("42B", 42),
    ];
    for (s, want) in ok {
        assert_eq!(parse_size(s), Ok(want), "{s}");
    }
    let bad = [
        ("", "a size is a whole number with an optional unit, like \"512MiB\" or \"2GiB\""),
        ("MiB", "a size is a whole number with an optional unit, like \"512MiB\" or \"2GiB\""),
        ("-1", "a size is a whole number with an optional unit, like \"512MiB\" or \"2GiB\""),
        ("1.5G", "sizes are whole numbers; use a smaller unit, like \"1536MiB\" instead of \"1.5GiB\""),
        ("1GB", "unit \"GB\" is ambiguous; sizes are binary, write \"GiB\""),
        ("1kb", "unit \"kb\" is ambiguous; sizes are binary, write \"KiB\""),
        ("1m", "unknown unit \"m\"; use B, KiB, MiB, GiB or TiB, like \"512MiB\""),
        ("99999999999TiB", "size is too large"),
        ("99999999999999999999", "size is too large"),
    ];
    for (s, want) in bad {
        assert_eq!(parse_size(s), Err(want.to_string()), "{s}");
    }
}

#[test]
fn cpu_seconds_unlimited_lifts_a_parent_cap() {
    let dir = scratch("cpu");
    write(&dir, "base.toml", "[server]\ncommand = \"x\"\n[limits]\ncpu_seconds = 10\n");
    let child = write(&dir, "child.toml", "extends = \"./base.toml\"\n[limits]\ncpu_seconds = \"unlimited\"\n");
    assert_eq!(load(child.to_str().unwrap(), &ctx()).unwrap().limits.cpu_seconds, None);
    let base = load(dir.join("base.toml").to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(base.limits.cpu_seconds, Some(10));
}

#[test]
fn merge_rules() {
    let dir = scratch("merge");
    write(
        &dir,
        "base.toml",
        r#"description = "base"
[server]
command = "srv"
args = ["--a", "--b"]
env = { A = "1", B = "2" }
[filesystem]
read = ["/r1", "/r2"]
write = ["/w1"]
[network]
egress = ["a.example.com", "b.example.com"]
[secrets.T1]
source = "env:T1"
env = "TOKEN_ONE"
[secrets.T2]
source = "env:T2"
[limits]
memory = "1GiB"
pids = 100
[sandbox]
landlock_min_abi = 3
"#,
    );
    let child = write(
        &dir,
        "child.toml",
        r#"extends = "base.toml"
[server]
args = ["--c"]
env = { B = "20", C = "30" }
[filesystem]
read = ["/r2"]
[network]
egress = []
[secrets.T1]
source = "file:/run/t1"
[secrets.T3]
source = "env:T3"
[limits]
pids = 50
[sandbox]
backend = "container"
"#,
    );
    let p = load(child.to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(p.name, "child");
    assert_eq!(p.extends, [Origin::File(dir.join("base.toml"))]);
    assert_eq!(p.description.as_deref(), Some("base"), "inherited");
    assert_eq!(p.server.command, "srv", "inherited");
    assert_eq!(p.server.args, ["--c"], "arrays are replaced");
    let env: Vec<(&str, &str)> = p.server.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env, [("A", "1"), ("B", "20"), ("C", "30")], "env merges by key, child wins");
    assert_eq!(p.filesystem.read, [grant("/r2", false)]);
    assert_eq!(p.filesystem.write, [grant("/w1", false)], "unset arrays are inherited");
    assert!(p.network.egress.is_empty(), "an empty array narrows to nothing");
    let secrets: Vec<(&str, &SecretSource, &SecretDelivery)> =
        p.secrets.iter().map(|s| (s.name.as_str(), &s.source, &s.delivery)).collect();
    assert_eq!(
        secrets,
        [
            ("T1", &SecretSource::File("/run/t1".into()), &SecretDelivery::Env("TOKEN_ONE".into())),
            ("T2", &SecretSource::Env("T2".into()), &SecretDelivery::Env("T2".into())),
            ("T3", &SecretSource::Env("T3".into()), &SecretDelivery::Env("T3".into())),
        ],
        "secrets merge by name, and key by key within one secret"
    );
    assert_eq!(p.limits.memory_bytes, 1 << 30);
    assert_eq!(p.limits.pids, 50);
    assert_eq!(p.limits.open_files, 1024, "default");
    assert_eq!(
        p.sandbox,
        Sandbox { backend: Backend::Container, landlock_min_abi: 3, shutdown_grace_ms: 2000, image: None }
    );
}

#[test]
fn command_secret() {
    let p = parse(
        r#"[server]
command = "srv"
[secrets.GITHUB_TOKEN]
source = "command"
command = ["gh", "auth", "token"]
timeout_secs = 30
env = "GITHUB_PERSONAL_ACCESS_TOKEN"
[secrets.OP]
source = "command"
command = ["op", "read", "op://vault/item/field"]
"#,
    );
    assert_eq!(p.secrets[0].name, "GITHUB_TOKEN");
    assert_eq!(
        p.secrets[0].source,
        SecretSource::Command { argv: vec!["gh".into(), "auth".into(), "token".into()], timeout_secs: 30 }
    );
    assert_eq!(p.secrets[0].delivery, SecretDelivery::Env("GITHUB_PERSONAL_ACCESS_TOKEN".into()));
    assert_eq!(
        p.secrets[1].source,
        SecretSource::Command {
            argv: vec!["op".into(), "read".into(), "op://vault/item/field".into()],
            timeout_secs: 10
        },
        "timeout_secs defaults to 10"
    );
}

#[test]
fn command_secret_merge() {
    let dir = scratch("command_secret_merge");
    write(
        &dir,
        "base.toml",
        r#"[server]
command = "srv"
[secrets.A]
source = "command"
command = ["gh", "auth", "token"]
timeout_secs = 30
[secrets.B]
source = "command"
command = ["gh", "auth", "token"]
timeout_secs = 30
"#,
    );
    let child = write(
        &dir,
        "child.toml",
        r#"extends = "base.toml"
[secrets.A]
command = ["gh", "auth", "token", "--hostname", "example.com"]
[secrets.B]
source = "env:B"
"#,
    );
    let p = load(child.to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(
        p.secrets[0].source,
        SecretSource::Command {
            argv: ["gh", "auth", "token", "--hostname", "example.com"].map(String::from).to_vec(),
            timeout_secs: 30
        },
        "a child may change only the argv"
    );
    assert_eq!(p.secrets[1].source, SecretSource::Env("B".into()), "a new source drops the base's command keys");
}

#[test]
fn read_write_conflict_after_merge_points_at_the_child() {
    let dir = scratch("conflict");
    write(&dir, "base.toml", "[server]\ncommand = \"srv\"\n[filesystem]\nread = [\"/data\"]\n");
    let child = write(&dir, "child.toml", "extends = \"base.toml\"\n[filesystem]\nwrite = [\"/data\"]\n");
    let e = load(child.to_str().unwrap(), &ctx()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:10: path \"/data\" is granted both read and write; pick one (write already allows reading)",
            child.display()
        )
    );
}

#[test]
fn extends_builtin_and_installed() {
    let dir = scratch("installed");
    // An installed profile named like a built-in and extending it customises the built-in.
    write(
        &dir,
        "filesystem.toml",
        "extends = \"filesystem\"\n[server]\nargs = [\"/srv/notes\"]\n[filesystem]\nread = [\"/srv/notes\"]\n",
    );
    write(&dir, "notes.toml", "extends = \"filesystem\"\ndescription = \"notes\"\n");
    let c = LoadContext { profile_dirs: vec![PathBuf::from("/nonexistent"), dir.clone()], ..ctx() };
    let p = load("notes", &c).unwrap();
    assert_eq!(p.name, "notes");
    assert_eq!(p.origin, Origin::File(dir.join("notes.toml")));
    assert_eq!(p.extends, [Origin::File(dir.join("filesystem.toml")), Origin::Builtin("filesystem".into())]);
    assert_eq!(p.server.command, "mcp-server-filesystem");
    assert_eq!(p.server.args, ["/srv/notes"]);
    assert_eq!(p.description.as_deref(), Some("notes"));
    assert_eq!(p.filesystem.read, [grant("/srv/notes", false)]);

    let b = load("memory", &ctx()).unwrap();
    assert_eq!(b.origin, Origin::Builtin("memory".into()));
    assert_eq!(b.server.env.get("MEMORY_FILE_PATH").map(String::as_str), Some("/tmp/memory.jsonl"));
}

#[test]
fn extends_cycle() {
    let dir = scratch("cycle");
    let a = write(&dir, "a.toml", "extends = \"b.toml\"\n");
    let b = write(&dir, "b.toml", "description = \"b\"\nextends = \"./a.toml\"\n");
    let e = load(a.to_str().unwrap(), &ctx()).unwrap_err();
    assert!(matches!(e, ProfileError::ExtendsCycle { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "{b}:2:11: extends cycle: {a} -> {b} -> {a}; remove one of these extends",
            a = a.display(),
            b = b.display()
        )
    );
    let self_loop = write(&dir, "self.toml", "extends = \"self.toml\"\n");
    let s = self_loop.display();
    assert_eq!(
        load(self_loop.to_str().unwrap(), &ctx()).unwrap_err().to_string(),
        format!("{s}:1:11: extends cycle: {s} -> {s}; remove one of these extends")
    );
}

#[test]
fn extends_not_found() {
    let dir = scratch("notfound");
    let p = write(&dir, "p.toml", "# comment\n\n\nextends = \"nope\"\n[server]\ncommand = \"x\"\n");
    assert_eq!(
        load(p.to_str().unwrap(), &ctx()).unwrap_err().to_string(),
        format!(
            "{}:4:11: extends \"nope\": no such profile (not a file, not installed, not built in); use a path to a .toml file or one of the built-in profiles: brave-search, everything, fetch, filesystem, git, github, gitlab, memory, playwright, postgres, puppeteer, sequential-thinking, slack, time",
            p.display()
        )
    );
    let q = write(&dir, "q.toml", "extends = \"../missing/base.toml\"\n");
    assert_eq!(
        load(q.to_str().unwrap(), &ctx()).unwrap_err().to_string(),
        format!(
            "{}:1:11: extends \"../missing/base.toml\": file \"{}\" does not exist; fix the path (relative paths start from this file's directory)",
            q.display(),
            dir.parent().unwrap().join("missing/base.toml").display()
        )
    );
    // Built-ins only extend built-ins.
    assert_eq!(
        parse_str("extends = \"./x.toml\"\n", Origin::Builtin("b".into()), &ctx()).unwrap_err().to_string(),
        "builtin:b:1:11: extends \"./x.toml\": a built-in profile can only extend built-in profiles: brave-search, everything, fetch, filesystem, git, github, gitlab, memory, playwright, postgres, puppeteer, sequential-thinking, slack, time"
    );
}

#[test]
fn extends_depth_limit() {
    let dir = scratch("depth");
    write(&dir, "p9.toml", "[server]\ncommand = \"x\"\n");
    for i in 0..9 {
        write(&dir, &format!("p{i}.toml"), &format!("extends = \"p{}.toml\"\n", i + 1));
    }
    // p1 -> ... -> p9 is 8 hops: allowed.
    let ok = load(dir.join("p1.toml").to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(ok.extends.len(), 8);
    let p8 = dir.join("p8.toml");
    assert_eq!(
        load(dir.join("p0.toml").to_str().unwrap(), &ctx()).unwrap_err().to_string(),
        format!("{}:1:11: extends chain is longer than 8 profiles; merge some of them into one file", p8.display())
    );
}

#[test]
fn missing_paths_with_check_paths() {
    let dir = scratch("paths");
    fs::create_dir(dir.join("present")).unwrap();
    let c = LoadContext { home: dir.clone(), check_paths: true, ..ctx() };
    let text = "[server]\ncommand = \"x\"\ncwd = \"~/present\"\n[filesystem]\nread = [\"~/present\", { path = \"~/maybe\", optional = true }]\nwrite = [\"~/nope\"]\n";
    let e = parse_str(text, Origin::File("p.toml".into()), &c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.toml:6:10: path \"~/nope\" does not exist; create it or mark it optional: { path = \"~/nope\", optional = true }"
    );
    // Without the check, the same profile loads.
    let p = parse_str(text, Origin::File("p.toml".into()), &LoadContext { check_paths: false, ..c.clone() }).unwrap();
    assert_eq!(p.filesystem.write, [PathGrant { path: dir.join("nope"), optional: false }]);

    let cwd = "[server]\ncommand = \"x\"\ncwd = \"~/gone\"\n";
    assert_eq!(
        parse_str(cwd, Origin::File("p.toml".into()), &c).unwrap_err().to_string(),
        "p.toml:3:7: server.cwd \"~/gone\" is not an existing directory; create it or change cwd"
    );
}

#[test]
fn missing_path_in_base_points_at_the_base() {
    let dir = scratch("basepath");
    let base = write(&dir, "base.toml", "[server]\ncommand = \"x\"\n[filesystem]\nread = [\"/nonexistent/mcpcell\"]\n");
    let child = write(&dir, "child.toml", "extends = \"base.toml\"\n");
    let c = LoadContext { check_paths: true, ..ctx() };
    assert_eq!(
        load(child.to_str().unwrap(), &c).unwrap_err().to_string(),
        format!(
            "{}:4:9: path \"/nonexistent/mcpcell\" does not exist; create it or mark it optional: {{ path = \"/nonexistent/mcpcell\", optional = true }}",
            base.display()
        )
    );
}

#[test]
fn load_prefers_paths_then_installed_then_builtins() {
    let dir = scratch("order");
    write(&dir, "everything.toml", "[server]\ncommand = \"mine\"\n");
    let c = LoadContext { profile_dirs: vec![dir.clone()], ..ctx() };
    assert_eq!(load("everything", &c).unwrap().server.command, "mine");
    assert_eq!(load("everything", &ctx()).unwrap().server.command, "mcp-server-everything");
    let path = dir.join("everything.toml");
    assert_eq!(load(path.to_str().unwrap(), &ctx()).unwrap().server.command, "mine");
}

#[test]
fn every_builtin_parses() {
    let names: Vec<&str> = builtins().iter().map(|b| b.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "listed sorted by name");
    assert!(names.len() >= 14, "{names:?}");
    // The reviewed grants of each built-in: no files for any of them, and exactly these hosts.
    let egress = |name: &str| -> Vec<String> {
        match name {
            "github" => vec!["api.github.com:443".into()],
            "gitlab" => vec!["gitlab.com:443".into()],
            "slack" => vec!["slack.com:443".into()],
            "brave-search" => vec!["api.search.brave.com:443".into()],
            _ => vec![],
        }
    };
    for b in builtins() {
        let p = parse_str(b.toml, Origin::Builtin(b.name.into()), &LoadContext { check_paths: true, ..ctx() })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.name, b.name);
        assert_eq!(p.description.as_deref(), Some(b.description), "{}: description matches the TOML", b.name);
        assert!(b.toml.starts_with(&format!("# Built-in profile \"{}\"", b.name)), "{}: documented", b.name);
        assert!(p.filesystem.read.is_empty() && p.filesystem.write.is_empty(), "{} grants no files", b.name);
        let hosts: Vec<String> = p.network.egress.iter().map(|r| r.to_string()).collect();
        assert_eq!(hosts, egress(b.name), "{}: egress", b.name);
        assert!(p.network.egress.iter().all(|r| !r.allow_private), "{}", b.name);
        let declared: mcpcell_profiles::PackageRef = b.package.parse().unwrap();
        match &p.server.package {
            // Package profiles pin an exact version of the package they declare.
            Some(pkg) => {
                assert_eq!(pkg.key(), declared.key(), "{}", b.name);
                assert!(matches!(pkg.version, mcpcell_profiles::PackageVersion::Exact(_)), "{}: pinned", b.name);
                assert!(p.server.command.is_empty());
            }
            // The three original built-ins run the globally installed command.
            None => assert_eq!(p.server.command, format!("mcp-server-{}", b.name)),
        }
        for s in &p.secrets {
            assert!(matches!(s.source, mcpcell_profiles::SecretSource::Env(_)), "{}: {} from env", b.name, s.name);
        }
    }
}

#[test]
fn package_and_command_exclude_each_other_and_extends_switches_between_them() {
    let dir = scratch("package");
    let both = write(&dir, "both.toml", "[server]\ncommand = \"node\"\npackage = \"npm:x@1.0.0\"\n");
    let e = load(both.to_str().unwrap(), &ctx()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3:11: [server] has both command and package", both.display())), "{e}");
    let bad = write(&dir, "bad.toml", "[server]\npackage = \"npm:x@^1.0.0\"\n");
    let e = load(bad.to_str().unwrap(), &ctx()).unwrap_err().to_string();
    assert!(e.contains(":2:11: server.package: version \"^1.0.0\"") && e.contains("not an exact version"), "{e}");
    // A child's package replaces the base's command, and the other way round.
    let pkg = write(
        &dir,
        "pkg.toml",
        "extends = \"everything\"\n[server]\npackage = \"npm:@modelcontextprotocol/server-everything@2026.8.31\"\n",
    );
    let p = load(pkg.to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(p.server.command, "");
    assert_eq!(p.server.package.unwrap().to_string(), "npm:@modelcontextprotocol/server-everything@2026.8.31");
    let cmd = write(&dir, "cmd.toml", "extends = \"time\"\n[server]\ncommand = \"/usr/bin/true\"\n");
    let p = load(cmd.to_str().unwrap(), &ctx()).unwrap();
    assert_eq!(p.server.command, "/usr/bin/true");
    assert!(p.server.package.is_none());
    // Args and the flags still merge.
    let child = write(&dir, "child.toml", "extends = \"pkg.toml\"\n[server]\nargs = [\"a\"]\ni_mean_it = true\n");
    let p = load(child.to_str().unwrap(), &ctx()).unwrap();
    assert!(p.server.package.is_some() && p.server.i_mean_it && !p.server.install_scripts);
    assert_eq!(p.server.args, ["a"]);
}

#[test]
fn package_profiles_for_command_line_specs() {
    use mcpcell_profiles::package_profile;
    // A catalogue package without a version: the catalogue profile itself.
    let p = package_profile("npm:@modelcontextprotocol/server-github", &ctx()).unwrap();
    assert_eq!(p.name, "github");
    // With a version: the catalogue profile, that version.
    let p = package_profile("pypi:mcp-server-time==2026.10.18", &ctx()).unwrap();
    assert_eq!(p.name, "pypi-mcp-server-time");
    assert_eq!(p.extends, [Origin::Builtin("time".into())]);
    assert_eq!(p.server.package.unwrap().to_string(), "pypi:mcp-server-time==2026.10.18");
    // Anything else: nothing granted.
    let p = package_profile("npm:@acme/mcp-thing@1.0.0", &ctx()).unwrap();
    assert_eq!(p.name, "npm-acme-mcp-thing");
    assert!(
        p.extends.is_empty() && p.filesystem.read.is_empty() && p.network.egress.is_empty() && p.secrets.is_empty()
    );
    assert!(!p.tools.is_configured());
    let e = package_profile("npm:Nope", &ctx()).unwrap_err().to_string();
    assert!(e.starts_with("<command line>:1:1: npm package name \"Nope\""), "{e}");
}

#[test]
fn json_schema_mentions_every_table() {
    let schema = json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap();
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, schema);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let props = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    for key in
        ["description", "extends", "server", "filesystem", "network", "secrets", "limits", "sandbox", "tools", "audit"]
    {
        assert!(keys.contains(&key), "schema lacks {key}");
    }
    assert_eq!(keys.len(), 10);
    assert_eq!(schema["additionalProperties"], false);
}

/// The schema file shipped for editors must match `json_schema()`.
/// Regenerate with `MCPCELL_UPDATE_SCHEMA=1 cargo test -p mcpcell-profiles`.
#[test]
fn schema_file_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/profile.schema.json");
    let want = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    if std::env::var_os("MCPCELL_UPDATE_SCHEMA").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &want).unwrap();
    }
    let have = fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} is stale; run MCPCELL_UPDATE_SCHEMA=1 cargo test -p mcpcell-profiles", path.display());
}

#[test]
fn minted_sources_delivery_and_ttl() {
    use mcpcell_profiles::{AwsSts, GithubApp, OAuth2, OAuth2Grant};
    let p = parse(
        r#"
[server]
command = "srv"
[secrets.GITHUB_TOKEN]
source = "github-app"
app_id = 12345
installation_id = 678
private_key = "file:~/.config/app.pem"
repositories = ["repo-a", "repo-b"]
permissions = { contents = "read", issues = "write" }
delivery = "file"
ttl_secs = 1800
[secrets.AWS]
source = "aws-sts"
role_arn = "arn:aws:iam::123456789012:role/mcp-read"
policy = '{"Version":"2012-10-17","Statement":[]}'
endpoint = "http://127.0.0.1:5000/"
ttl_secs = 900
[secrets.API]
source = "oauth2"
grant = "token_exchange"
token_url = "https://auth.example.com/token"
client_id = "mcp"
client_secret = "env:CLIENT_SECRET"
subject_token = "file:/run/user/1/upstream"
resource = ["https://mcp.example.com/", "https://other.example.com/"]
audience = "mcp"
scope = ["read", "write"]
revocation_url = "https://auth.example.com/revoke"
env = "API_TOKEN"
[secrets.KR]
source = "keyring"
service = "github"
user = "me"
"#,
    );
    let by = |n: &str| p.secrets.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("no secret {n}"));
    let gh = by("GITHUB_TOKEN");
    assert_eq!(
        gh.source,
        SecretSource::GithubApp(GithubApp {
            app_id: "12345".into(),
            installation_id: 678,
            private_key: Box::new(SecretSource::File("/home/u/.config/app.pem".into())),
            repositories: vec!["repo-a".into(), "repo-b".into()],
            permissions: BTreeMap::from([("contents".into(), "read".into()), ("issues".into(), "write".into())]),
            api_url: "https://api.github.com".into(),
        })
    );
    assert_eq!(gh.delivery, SecretDelivery::File { env: "GITHUB_TOKEN_FILE".into() }, "file delivery: NAME_FILE");
    assert_eq!(gh.ttl_secs, Some(1800));
    let aws = by("AWS");
    assert_eq!(
        aws.source,
        SecretSource::AwsSts(AwsSts {
            role_arn: "arn:aws:iam::123456789012:role/mcp-read".into(),
            session_name: "mcpcell".into(),
            policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            endpoint: "http://127.0.0.1:5000".into(),
            region: "us-east-1".into(),
        })
    );
    assert_eq!(aws.delivery, SecretDelivery::AwsEnv);
    assert_eq!(aws.delivered_vars(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);
    let api = by("API");
    assert_eq!(
        api.source,
        SecretSource::OAuth2(OAuth2 {
            token_url: "https://auth.example.com/token".into(),
            grant: OAuth2Grant::TokenExchange {
                subject_token: Box::new(SecretSource::File("/run/user/1/upstream".into())),
                subject_token_type: "urn:ietf:params:oauth:token-type:access_token".into(),
                requested_token_type: None,
            },
            client_id: "mcp".into(),
            client_secret: Some(Box::new(SecretSource::Env("CLIENT_SECRET".into()))),
            resource: vec!["https://mcp.example.com/".into(), "https://other.example.com/".into()],
            audience: Some("mcp".into()),
            scope: Some("read write".into()),
            revocation_url: Some("https://auth.example.com/revoke".into()),
        })
    );
    assert_eq!(api.delivery, SecretDelivery::Env("API_TOKEN".into()));
    assert_eq!(by("KR").source, SecretSource::Keyring { service: "github".into(), user: "me".into() });
}

#[test]
fn a_child_profile_changes_one_secret_setting() {
    let dir = std::env::temp_dir().join(format!("mcpcell-secret-merge-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("base.toml"),
        "[server]\ncommand = \"srv\"\n[secrets.T]\nsource = \"oauth2\"\ntoken_url = \"https://a/t\"\nclient_id = \"c\"\nresource = \"https://r\"\n",
    )
    .unwrap();
    fs::write(dir.join("child.toml"), "extends = \"base.toml\"\n[secrets.T]\nscope = \"read\"\ndelivery = \"file\"\n")
        .unwrap();
    let p = load(dir.join("child.toml").to_str().unwrap(), &ctx()).unwrap_or_else(|e| panic!("{e}"));
    let SecretSource::OAuth2(o) = &p.secrets[0].source else { panic!("not oauth2: {:?}", p.secrets[0].source) };
    assert_eq!((o.client_id.as_str(), o.scope.as_deref()), ("c", Some("read")), "base keys kept, child key added");
    assert_eq!(p.secrets[0].delivery, SecretDelivery::File { env: "T_FILE".into() });
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn issuer_urls_are_https_or_loopback_http() {
    use mcpcell_profiles::check_issuer_url;
    for ok in [
        "https://api.github.com",
        "https://auth.example.com:8443/oauth/token",
        "http://127.0.0.1:5000/token",
        "http://127.9.9.9/token",
        "http://localhost:8080",
        "http://[::1]:9000/t",
    ] {
        assert_eq!(check_issuer_url(ok), Ok(()), "{ok}");
    }
    for bad in [
        "http://auth.example.com/token",
        "http://localhost.evil.example/token",
        "http://127.0.0.1.nip.io/token",
        "http://127.0.0.1@evil.example/token",
        "http://10.0.0.1/token",
        "ftp://127.0.0.1/token",
        "https:///token",
        "auth.example.com/token",
    ] {
        assert!(check_issuer_url(bad).is_err(), "{bad} must be refused");
    }
}
