//! Package sources (`[server] package = "npm:..."` / `"pypi:..."`, `mcpcell run npm:...`): the
//! catalogue's servers installed from the real npm and PyPI registries and started in cells
//! under the real Python MCP SDK client; pins, integrity and tamper checks on a local fixture
//! package built with `npm pack`; install scripts; the typosquat guard.
//!
//! The catalogue packages are downloaded once per checkout: the first test that needs them runs
//! `mcpcell install` for all of them into a shared cache and lockfile directory under the
//! target dir (scripts/test does the same before the tests), and later runs find them pinned
//! and verified there, with no network.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Catalogue profiles that run a package, with a tool each must list and, where the profile
/// denies one, a tool that must be hidden.
const CATALOGUE: &[(&str, &str, Option<&str>)] = &[
    ("sequential-thinking", "sequentialthinking", None),
    ("github", "create_issue", Some("merge_pull_request")),
    ("slack", "slack_post_message", None),
    ("brave-search", "brave_web_search", None),
    ("puppeteer", "puppeteer_navigate", None),
    ("time", "get_current_time", None),
    ("fetch", "fetch", None),
    ("git", "git_status", Some("git_reset")),
    ("playwright", "browser_navigate", Some("browser_run_code_unsafe")),
];

/// Dummy values for the catalogue's declared secrets: the servers only need them to start (no
/// request reaches the real services; the cells have no route there anyway in these tests).
const DUMMY_SECRETS: &[&str] = &[
    "GITHUB_PERSONAL_ACCESS_TOKEN",
    "GITLAB_PERSONAL_ACCESS_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_TEAM_ID",
    "BRAVE_API_KEY",
];

const TIMEOUT: Duration = Duration::from_secs(900);

/// The shared cache and lockfile directories for the catalogue packages.
fn shared() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("packages-shared")
}

/// `mcpcell ARGS` with the cache and lockfiles in `root`, and registries that cannot be reached
/// unless `online`: a start that needs no install must not need them either.
fn cmd_in(root: &Path, online: bool, args: &[&str]) -> Command {
    let mut c = mcpcell_cmd(args);
    c.env("XDG_CACHE_HOME", root.join("cache")).env("XDG_CONFIG_HOME", root.join("config"));
    if !online {
        offline(&mut c);
    }
    c
}

fn offline(c: &mut Command) {
    c.env("npm_config_registry", "http://127.0.0.1:9/")
        .env("npm_config_offline", "true")
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_FIND_LINKS", "")
        .env("PIP_NO_INDEX", "1");
}

/// Installs every catalogue package once (downloads only when not yet pinned and cached).
fn catalogue_installed() -> &'static Path {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let root = shared();
        let mut names: Vec<&str> = CATALOGUE.iter().map(|c| c.0).collect();
        names.extend(["gitlab", "postgres", "npm:@modelcontextprotocol/server-everything@2026.8.31"]);
        let mut args = vec!["install"];
        args.extend(names);
        let out = run_cmd(cmd_in(&root, true, &args), None, TIMEOUT);
        assert_code(&out, 0, "mcpcell install of the catalogue packages");
        root
    })
}

/// The Python MCP SDK client, through `mcpcell run SPEC`, offline: list the tools.
fn client_tools(root: &Path, spec: &str) -> (Vec<String>, Out) {
    let mut cmd = Command::new(python());
    cmd.arg(tests_dir().join("clients/filesystem_client.py")).arg(mcpcell()).arg(spec).arg("[]");
    cmd.env("XDG_CACHE_HOME", root.join("cache")).env("XDG_CONFIG_HOME", root.join("config"));
    for name in DUMMY_SECRETS {
        cmd.env(name, "dummy-not-a-real-token");
    }
    offline(&mut cmd);
    let out = run_cmd(cmd, None, Duration::from_secs(180));
    assert_code(&out, 0, &format!("the Python MCP client session through `mcpcell run {spec}`"));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the client's report is not JSON ({e}):{}", out.describe()));
    let tools = report["tools"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    (tools, out)
}

fn catalogue_entry(name: &str) {
    let root = catalogue_installed();
    let &(_, present, hidden) = CATALOGUE.iter().find(|c| c.0 == name).unwrap();
    let (tools, out) = client_tools(root, name);
    assert!(tools.iter().any(|t| t == present), "{name} lists {present}; got {tools:?}{}", out.describe());
    if let Some(hidden) = hidden {
        assert!(!tools.iter().any(|t| t == hidden), "{name} hides the denied {hidden}; got {tools:?}");
    }
    // Started from the verified cache: nothing was installed for this start.
    assert!(!out.stderr().contains("installing"), "no install at this start:{}", out.describe());
}

macro_rules! catalogue_tests {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            catalogue_entry($name);
        }
    )*};
}

catalogue_tests! {
    catalogue_sequential_thinking_lists_tools_in_a_cell => "sequential-thinking",
    catalogue_github_lists_tools_in_a_cell => "github",
    catalogue_slack_lists_tools_in_a_cell => "slack",
    catalogue_brave_search_lists_tools_in_a_cell => "brave-search",
    catalogue_puppeteer_lists_tools_in_a_cell => "puppeteer",
    catalogue_time_lists_tools_in_a_cell => "time",
    catalogue_fetch_lists_tools_in_a_cell => "fetch",
    catalogue_git_lists_tools_in_a_cell => "git",
    catalogue_playwright_lists_tools_in_a_cell => "playwright",
}

/// gitlab 2025.4.25 lists tool input schemas without `"type": "object"`, which the Python SDK's
/// client rejects (a bug of that server, not of the cell); mcpcell's own MCP client, which does
/// not validate schemas, does the handshake instead.
#[test]
fn catalogue_gitlab_lists_tools_in_a_cell() {
    let root = catalogue_installed();
    let mut c = cmd_in(root, false, &["tools", "gitlab"]);
    c.env("GITLAB_PERSONAL_ACCESS_TOKEN", "dummy-not-a-real-token");
    let out = run_cmd(c, None, TIMEOUT);
    assert_code(&out, 0, "mcpcell tools gitlab");
    assert!(out.stdout().contains("gitlab-mcp-server") && out.stdout().contains("create_issue"), "{}", out.describe());
    assert!(!out.stderr().contains("installing"), "{}", out.describe());
}

/// postgres needs its connection URL: extend the catalogue profile as its header says. The
/// pool connects lazily, so listing tools needs no database.
#[test]
fn catalogue_postgres_extended_lists_tools_in_a_cell() {
    let root = catalogue_installed();
    let sc = Scratch::new("pkg-postgres");
    let profile =
        sc.file("pg.toml", "extends = \"postgres\"\n[server]\nargs = [\"postgresql://app@db.invalid:5432/app\"]\n");
    // Its own lockfile (next to the file): pinned from the shared cache without a download.
    let (tools, out) = client_tools(root, profile.to_str().unwrap());
    assert_eq!(tools, ["query"], "{}", out.describe());
    assert!(sc.join("pg.lock.json").is_file(), "the package pin was written next to the profile");
}

/// `mcpcell run npm:PKG@VERSION` of a catalogue package runs the catalogue profile with that
/// version (here the command-based `everything`, switched to its package).
#[test]
fn run_npm_spec_of_a_catalogue_package_uses_its_profile() {
    let root = catalogue_installed();
    let spec = "npm:@modelcontextprotocol/server-everything@2026.8.31";
    let (tools, out) = client_tools(root, spec);
    assert!(tools.iter().any(|t| t == "echo"), "server-everything lists echo: {tools:?}{}", out.describe());
    let ex = run_cmd(cmd_in(root, false, &["explain", spec]), None, TIMEOUT);
    assert_code(&ex, 0, "explain");
    let text = ex.stdout();
    assert!(text.contains("extends: Builtin(\"everything\")"), "{text}");
    assert!(text.contains("cache: installed, matches the lockfile"), "{text}");
    assert!(text.contains("registry integrity: sha512-"), "{text}");
}

/// Every catalogue profile validates and explains; package ones show the package section.
#[test]
fn every_catalogue_profile_checks_and_explains() {
    let listed = mcpcell_run(&["profiles"]);
    assert_code(&listed, 0, "profiles");
    let names: Vec<String> =
        listed.stdout().lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect();
    assert!(names.len() >= 14, "at least 14 built-ins: {names:?}");
    let sc = Scratch::new("pkg-explain");
    for name in &names {
        let out = run_cmd(cmd_in(&sc.path, false, &["check", name]), None, TIMEOUT);
        assert_code(&out, 0, &format!("check {name}"));
        let out = run_cmd(cmd_in(&sc.path, false, &["explain", name]), None, TIMEOUT);
        assert_code(&out, 0, &format!("explain {name}"));
        let shown = mcpcell_run(&["profiles", "show", name]);
        assert_code(&shown, 0, &format!("profiles show {name}"));
        assert!(shown.stdout().starts_with(&format!("# Built-in profile \"{name}\"")), "{}", shown.stdout());
        if shown.stdout().contains("\npackage = ") {
            let text = out.stdout();
            assert!(text.contains("\nPackage\n"), "explain {name} has a Package section:\n{text}");
            // Nothing installed in this empty cache: explain says so instead of installing.
            assert!(text.contains("cache: not installed"), "{text}");
            assert!(!sc.join("cache/mcpcell").exists(), "explain installed nothing");
        }
    }
    let github = mcpcell_run(&["profiles", "show", "github"]).stdout();
    assert!(github.contains("egress = [\"api.github.com\"]"), "{github}");
    assert!(github.contains("source = \"env:GITHUB_PERSONAL_ACCESS_TOKEN\""), "{github}");
}

// ---- a local fixture package ------------------------------------------------------------------

/// A tiny MCP server package (a `bin` answering initialize and tools/list), packed with
/// `npm pack`. Its postinstall writes `postinstall-ran` in its own directory and tries to write
/// `outside` (a host path) too.
struct FixturePkg {
    sc: Scratch,
    tgz: PathBuf,
    outside: PathBuf,
}

impl FixturePkg {
    fn new(tag: &str) -> FixturePkg {
        let sc = Scratch::new(tag);
        let outside = sc.join("outside-marker");
        let script = format!(
            "node -e \"require('fs').writeFileSync('postinstall-ran','yes'); try {{ require('fs').writeFileSync('{}','escaped') }} catch (e) {{}}\"",
            outside.display()
        );
        let manifest = json!({
            "name": "mcpcell-fixture-server",
            "version": "1.0.0",
            "bin": { "mcpcell-fixture-server": "server.js" },
            "scripts": { "postinstall": script },
        });
        sc.file("pkg/package.json", &manifest.to_string());
        sc.file("pkg/server.js", FIXTURE_SERVER);
        let mut pack = Command::new("npm");
        pack.current_dir(sc.join("pkg")).args(["pack", "--pack-destination"]).arg(&sc.path);
        let out = run_cmd(pack, None, Duration::from_secs(120));
        assert_code(&out, 0, "npm pack");
        let tgz = sc.join("mcpcell-fixture-server-1.0.0.tgz");
        assert!(tgz.is_file(), "npm pack wrote {}:{}", tgz.display(), out.describe());
        FixturePkg { sc, tgz, outside }
    }

    fn spec(&self) -> String {
        format!("npm:mcpcell-fixture-server@file:{}", self.tgz.display())
    }

    fn mcpcell(&self, online: bool, args: &[&str]) -> Out {
        run_cmd(cmd_in(&self.sc.path, online, args), None, TIMEOUT)
    }

    fn lock(&self, name: &str) -> PathBuf {
        self.sc.join(&format!("config/mcpcell/locks/{name}.lock.json"))
    }

    /// The installed package directories in this fixture's cache.
    fn installed(&self) -> Vec<PathBuf> {
        let npm = self.sc.join("cache/mcpcell/npm");
        std::fs::read_dir(&npm)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path().join("node_modules/mcpcell-fixture-server"))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    }
}

const FIXTURE_SERVER: &str = r#"#!/usr/bin/env node
// A minimal MCP server for the tests: initialize, tools/list, nothing else.
process.stdin.setEncoding('utf8');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!line.trim()) continue;
    const m = JSON.parse(line);
    if (m.id === undefined) continue;
    let result = {};
    if (m.method === 'initialize') result = { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'fixture', version: '1.0.0' } };
    else if (m.method === 'tools/list') result = { tools: [{ name: 'hello', description: 'Says hello', inputSchema: { type: 'object' } }] };
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\n');
  }
});
"#;

/// base64(sha512(file)), npm's integrity format, computed independently of npm and mcpcell.
fn npm_integrity(path: &Path) -> String {
    let code = "import base64,hashlib,sys;print('sha512-'+base64.b64encode(hashlib.sha512(open(sys.argv[1],'rb').read()).digest()).decode())";
    let out = Command::new("python3").args(["-c", code]).arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn first_install_pins_version_and_integrity_and_later_starts_need_no_network() {
    let fx = FixturePkg::new("pkg-pin");
    let spec = fx.spec();
    let out = fx.mcpcell(true, &["tools", &spec]);
    assert_code(&out, 0, "first start installs");
    assert!(out.stdout().contains("hello"), "{}", out.describe());
    assert!(out.stderr().contains("installing"), "progress is shown while installing:{}", out.describe());
    let lock = read_json(&fx.lock("npm-mcpcell-fixture-server"));
    let pkg = &lock["package"];
    assert_eq!(pkg["version"], "1.0.0");
    assert_eq!(pkg["integrity"], npm_integrity(&fx.tgz), "the pinned integrity is the tarball's sha512");
    assert_eq!(pkg["entry"], json!({ "name": "mcpcell-fixture-server", "target": "server.js" }));
    assert_eq!(pkg["tree_sha256"].as_str().map(str::len), Some(64));

    // Later starts: no registry, no install, verified from the cache.
    let again = fx.mcpcell(false, &["tools", &spec]);
    assert_code(&again, 0, "second start, offline");
    assert!(again.stdout().contains("hello"), "{}", again.describe());
    assert!(!again.stderr().contains("install"), "nothing installed:{}", again.describe());
    let ex = fx.mcpcell(false, &["explain", &spec]);
    let text = ex.stdout();
    assert!(text.contains("cache: installed, matches the lockfile"), "{text}");
    assert!(text.contains("mounted read-only: ") && text.contains("node_modules"), "{text}");
    assert!(text.contains("interpreter: "), "{text}");
}

#[test]
fn a_tampered_cache_file_is_refused_and_reinstalling_from_the_lockfile_fixes_it() {
    let fx = FixturePkg::new("pkg-tamper");
    let spec = fx.spec();
    assert_code(&fx.mcpcell(true, &["install", &spec]), 0, "install");
    // Control: it starts.
    assert_code(&fx.mcpcell(false, &["tools", &spec]), 0, "untampered start");
    let dirs = fx.installed();
    assert_eq!(dirs.len(), 1, "one installed copy: {dirs:?}");
    let server = dirs[0].join("server.js");
    let mut text = std::fs::read_to_string(&server).unwrap();
    text.push_str("\nrequire('fs').writeFileSync('/tmp/pwned', 'x');\n");
    std::fs::write(&server, text).unwrap();

    let out = fx.mcpcell(false, &["tools", &spec]);
    assert_code(&out, 125, "a tampered cache is refused");
    let err = out.stderr();
    assert!(err.contains(&server.display().to_string()), "names the modified file:{}", out.describe());
    assert!(err.contains("modified since it was installed") && err.contains("Delete"), "says the fix:{err}");
    let ex = fx.mcpcell(false, &["explain", &spec]);
    assert!(ex.stdout().contains("cache: MODIFIED"), "{}", ex.stdout());

    // The fix the message gives: delete the cached copy; the next start reinstalls exactly the
    // pinned tree from the lockfile.
    let cached = dirs[0].parent().unwrap().parent().unwrap();
    std::fs::remove_dir_all(cached).unwrap();
    let fixed = fx.mcpcell(true, &["tools", &spec]);
    assert_code(&fixed, 0, "reinstalled from the lockfile");
    assert!(fixed.stderr().contains("reinstalling"), "{}", fixed.describe());
    assert!(!std::fs::read_to_string(fx.installed()[0].join("server.js")).unwrap().contains("pwned"));
}

#[test]
fn reinstalling_from_the_lockfile_checks_the_registry_integrity() {
    let fx = FixturePkg::new("pkg-integrity");
    let spec = fx.spec();
    assert_code(&fx.mcpcell(true, &["install", &spec]), 0, "install");
    let lock_path = fx.lock("npm-mcpcell-fixture-server");
    let good = std::fs::read_to_string(&lock_path).unwrap();
    let cache = fx.sc.join("cache/mcpcell/npm");

    // Control: with the cache gone, the lockfile reinstalls it.
    std::fs::remove_dir_all(&cache).unwrap();
    assert_code(&fx.mcpcell(true, &["install", &spec]), 0, "reinstall from an intact lockfile");

    // The same with a lockfile whose integrity for the package is wrong: npm refuses the download.
    std::fs::remove_dir_all(&cache).unwrap();
    let real = npm_integrity(&fx.tgz);
    let forged = format!("sha512-{}", "A".repeat(86) + "==");
    assert!(good.contains(&real));
    std::fs::write(&lock_path, good.replace(&real, &forged)).unwrap();
    let out = fx.mcpcell(true, &["install", &spec]);
    assert_code(&out, 125, "an integrity mismatch is refused");
    assert!(out.stderr().contains("npm ci failed"), "{}", out.describe());
    assert!(fx.installed().is_empty(), "nothing was installed");
}

#[test]
fn install_scripts_do_not_run_by_default() {
    let fx = FixturePkg::new("pkg-scripts-off");
    // Control: the postinstall, run on the host, does write both markers.
    let mut host = Command::new("sh");
    let script = read_json(&fx.sc.join("pkg/package.json"))["scripts"]["postinstall"].as_str().unwrap().to_string();
    host.current_dir(fx.sc.join("pkg")).args(["-c", &script]);
    assert_code(&run_cmd(host, None, Duration::from_secs(60)), 0, "the postinstall on the host");
    assert!(fx.sc.join("pkg/postinstall-ran").is_file() && fx.outside.is_file(), "the control wrote its markers");
    std::fs::remove_file(&fx.outside).unwrap();

    assert_code(&fx.mcpcell(true, &["install", &fx.spec()]), 0, "install");
    let dirs = fx.installed();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].join("server.js").is_file(), "installed");
    assert!(!dirs[0].join("postinstall-ran").exists(), "the postinstall did not run");
    assert!(!fx.outside.exists(), "nor wrote outside");
}

#[test]
fn opted_in_install_scripts_run_inside_a_cell() {
    let fx = FixturePkg::new("pkg-scripts-on");
    let profile =
        fx.sc.file("scripts.toml", &format!("[server]\npackage = \"{}\"\ninstall_scripts = true\n", fx.spec()));
    let out = fx.mcpcell(true, &["tools", profile.to_str().unwrap()]);
    assert_code(&out, 0, "install with scripts, then start");
    assert!(out.stderr().contains("running install scripts in a cell"), "{}", out.describe());
    let dirs = fx.installed();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].join("postinstall-ran").is_file(), "the postinstall ran:{}", out.describe());
    assert!(!fx.outside.exists(), "but only inside its cell: the host path it wrote to is untouched");
    let lock = read_json(&fx.sc.join("scripts.lock.json"));
    assert_eq!(lock["package"]["install_scripts"], true);
}

#[test]
fn typosquats_need_i_mean_it() {
    let sc = Scratch::new("pkg-typo");
    for (spec, like) in [
        ("npm:@modelcontextprotocol/server-githb", "npm:@modelcontextprotocol/server-github"),
        ("npm:@modelcontextprotocoll/server-slack@1.0.0", "npm:@modelcontextprotocol/server-slack"),
        ("npm:server-filesystem", "npm:@modelcontextprotocol/server-filesystem"),
        ("pypi:mcp-server-gti", "pypi:mcp-server-git"),
    ] {
        let out = run_cmd(cmd_in(&sc.path, false, &["run", spec]), None, TIMEOUT);
        assert_code(&out, 125, &format!("run {spec}"));
        let err = out.stderr();
        assert!(err.contains("resembles") && err.contains(like), "names {like}:{}", out.describe());
        assert!(err.contains("--i-mean-it"), "says how to proceed:{err}");
        assert!(!err.contains("installing"), "refused before installing anything:{err}");

        // With --i-mean-it the guard steps aside: the (offline) install is what fails now.
        let out = run_cmd(cmd_in(&sc.path, false, &["run", "--i-mean-it", spec]), None, TIMEOUT);
        assert_code(&out, 125, &format!("run --i-mean-it {spec}"));
        assert!(!out.stderr().contains("resembles"), "{}", out.describe());
        assert!(out.stderr().contains("installing"), "{}", out.describe());
    }
    // `check` accepts the profile but warns.
    let p = sc.file("typo-check.toml", "[server]\npackage = \"pypi:mcp-server-gti\"\n");
    let out = mcpcell_run(&["check", p.to_str().unwrap()]);
    assert_code(&out, 0, "check of a typosquat-looking profile");
    assert!(out.stderr().contains("warning:") && out.stderr().contains("pypi:mcp-server-git"), "{}", out.describe());
    // The profile line does the same.
    let p = sc.file("typo.toml", "[server]\npackage = \"pypi:mcp-server-gti\"\ni_mean_it = true\n");
    let out = run_cmd(cmd_in(&sc.path, false, &["run", p.to_str().unwrap()]), None, TIMEOUT);
    assert!(!out.stderr().contains("resembles"), "{}", out.describe());
    // A name far from every catalogue package is not flagged.
    let out = run_cmd(cmd_in(&sc.path, false, &["run", "npm:left-pad@1.3.0"]), None, TIMEOUT);
    assert!(!out.stderr().contains("resembles"), "{}", out.describe());
}

#[test]
fn command_and_package_together_are_a_positioned_error() {
    let sc = Scratch::new("pkg-both");
    let p = sc.file("both.toml", "[server]\ncommand = \"node\"\npackage = \"npm:x@1.0.0\"\n");
    let out = mcpcell_run(&["check", p.to_str().unwrap()]);
    assert_code(&out, 1, "check");
    assert!(
        out.stderr().contains(&format!("{}:3:11: [server] has both command and package", p.display())),
        "{}",
        out.describe()
    );
}

/// The same guarantees for a PyPI package: wheel hashes pinned, a tampered file refused, a
/// reinstall from the lockfile checked with `pip --require-hashes`.
#[test]
fn pypi_packages_are_pinned_by_file_hash_and_tampering_is_refused() {
    let sc = Scratch::new("pkg-pypi");
    let spec = "pypi:mcp-server-time==2026.10.19";
    let run = |online: bool, args: &[&str]| run_cmd(cmd_in(&sc.path, online, args), None, TIMEOUT);
    assert_code(&run(true, &["install", spec]), 0, "install");
    // `pypi:NAME==V` of a catalogue package: the catalogue profile with that version, named
    // after the package for its lockfile.
    let lock_path = sc.join("config/mcpcell/locks/pypi-mcp-server-time.lock.json");
    let lock = read_json(&lock_path);
    let dists = lock["package"]["pypi_dists"].as_array().unwrap().clone();
    let top = dists.iter().find(|d| d["name"] == "mcp-server-time").unwrap();
    assert_eq!(top["version"], "2026.10.19");
    assert_eq!(lock["package"]["integrity"], format!("sha256:{}", top["sha256"].as_str().unwrap()));
    assert!(dists.iter().all(|d| d["sha256"].as_str().is_some_and(|h| h.len() == 64)), "every dist pinned");
    assert_code(&run(false, &["tools", spec]), 0, "offline start");

    let site = std::fs::read_dir(sc.join("cache/mcpcell/pypi"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("site"))
        .find(|p| p.is_dir())
        .unwrap();
    let server = site.join("mcp_server_time/server.py");
    let mut text = std::fs::read_to_string(&server).unwrap();
    text.push_str("\nimport os  # tampered\n");
    std::fs::write(&server, text).unwrap();
    let out = run(false, &["tools", spec]);
    assert_code(&out, 125, "a tampered file is refused");
    assert!(out.stderr().contains(&server.display().to_string()), "{}", out.describe());

    // A reinstall from a lockfile whose hash for one wheel is wrong: pip refuses it.
    std::fs::remove_dir_all(site.parent().unwrap()).unwrap();
    let good = std::fs::read_to_string(&lock_path).unwrap();
    let real = top["sha256"].as_str().unwrap();
    std::fs::write(&lock_path, good.replace(real, &"0".repeat(64))).unwrap();
    let out = run(true, &["install", spec]);
    assert_code(&out, 125, "a hash mismatch is refused");
    assert!(out.stderr().contains("pip install failed"), "{}", out.describe());
    // Control: the intact lockfile reinstalls it, and it starts.
    std::fs::write(&lock_path, &good).unwrap();
    let out = run(true, &["install", spec]);
    assert_code(&out, 0, "reinstall from the intact lockfile");
    assert!(out.stderr().contains("--require-hashes"), "{}", out.describe());
    assert_code(&run(false, &["tools", spec]), 0, "start after the reinstall");
}

#[test]
fn a_full_disk_under_the_cache_fails_the_install_cleanly() {
    // A package bigger than the filesystem its cache is on (a 1 MiB tmpfs): the install must
    // fail with the reason, leave no cached copy or pin that a later start would trust, and work
    // once there is room (the control).
    let sc = Scratch::new("pkg-diskfull");
    let manifest = json!({
        "name": "mcpcell-fixture-big",
        "version": "1.0.0",
        "bin": { "mcpcell-fixture-big": "server.js" },
    });
    sc.file("pkg/package.json", &manifest.to_string());
    sc.file("pkg/server.js", FIXTURE_SERVER);
    // 4 MiB that do not compress: the unpacked tree cannot fit.
    let mut noise = vec![0u8; 4 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(sc.join("pkg/big.bin"), &noise).unwrap();
    let mut pack = Command::new("npm");
    pack.current_dir(sc.join("pkg")).args(["pack", "--pack-destination"]).arg(&sc.path);
    assert_code(&run_cmd(pack, None, Duration::from_secs(120)), 0, "npm pack");
    let spec = format!("npm:mcpcell-fixture-big@file:{}", sc.join("mcpcell-fixture-big-1.0.0.tgz").display());

    let cache = sc.dir("cache");
    let mount = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&cache).status().unwrap();
    assert!(mount.success(), "mounting a 1 MiB tmpfs for the cache (the test runs as root)");
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let umount = Umount(cache.clone());
    let out = run_cmd(cmd_in(&sc.path, true, &["install", &spec]), None, TIMEOUT);
    assert_ne!(out.code(), 0, "an install onto a full disk must fail:{}", out.describe());
    assert!(
        out.stderr().contains("No space left") || out.stderr().contains("ENOSPC"),
        "the error gives the reason:{}",
        out.describe()
    );
    let installed = |root: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(root.join("mcpcell/npm"))
            .map(|d| {
                d.flatten().map(|e| e.path()).filter(|p| p.join("node_modules/mcpcell-fixture-big").exists()).collect()
            })
            .unwrap_or_default()
    };
    assert!(installed(&cache).is_empty(), "a partial copy was left in the cache: {:?}", installed(&cache));
    let lock = sc.join("config/mcpcell/locks/npm-mcpcell-fixture-big.lock.json");
    assert!(!lock.exists(), "a pin was written for a failed install");

    // Control: with room, the same install works and the server starts.
    drop(umount);
    assert_code(&run_cmd(cmd_in(&sc.path, true, &["install", &spec]), None, TIMEOUT), 0, "install with room");
    let out = run_cmd(cmd_in(&sc.path, false, &["tools", &spec]), None, TIMEOUT);
    assert_code(&out, 0, "the installed package starts");
    assert!(lock.exists(), "pinned once installed");
}
