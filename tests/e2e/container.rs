//! The container backend against a real engine (Docker from Debian's docker.io, started by
//! .ci/run or scripts/test): the hardening asserted on the created container, the escape
//! battery's classes with `exec --backend container` (each denial next to its positive
//! control), a real MCP server from npm, exit statuses, and nothing left behind.
//!
//! These tests need a running engine; without one they fail (they are not skipped).

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The uid a root launcher's containers run as.
const NOBODY: u32 = 65534;

fn ccell() -> Cell {
    cell().flag("--backend", "container")
}

fn docker(args: &[&str]) -> Out {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    run_cmd(cmd, None, Duration::from_secs(60))
}

/// Containers started by launcher `pid` (running or not).
fn containers_of(pid: u32) -> Vec<String> {
    let out = docker(&["ps", "-aq", "--filter", &format!("label=io.mcpcell.parent={pid}")]);
    assert_eq!(out.code(), 0, "docker ps failed (is the engine running?):{}", out.describe());
    out.stdout().lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// A directory the container's uid may write to (a root launcher runs it as 65534).
fn writable_dir(sc: &Scratch, name: &str) -> std::path::PathBuf {
    let d = sc.dir(name);
    std::os::unix::fs::chown(&d, Some(NOBODY), Some(NOBODY)).unwrap();
    d
}

#[track_caller]
fn assert_refused(out: &Out, what: &str) {
    let sigsys = 128 + libc::SIGSYS;
    assert!(
        (out.code() == 1 && out.verdict().starts_with("DENIED:")) || out.code() == sigsys,
        "ESCAPE (container): {what} was expected to be refused, but it was not:{}",
        out.describe()
    );
}

/// Starts `mcpcell exec --backend container -- probe sleep 300 MARKER`, waits for its container.
struct Running {
    launcher: std::process::Child,
    id: String,
}

fn start_sleeper(c: Cell, marker: &str) -> Running {
    let mut cmd = c.command(probe(), &["sleep", "300", marker]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut launcher = cmd.spawn().unwrap();
    let pid = launcher.id();
    let mut id = String::new();
    let seen = eventually(Duration::from_secs(60), || {
        id = containers_of(pid).into_iter().next().unwrap_or_default();
        !id.is_empty() && procs_with(marker).iter().any(|(p, _)| *p != pid)
    });
    if !seen {
        let _ = launcher.kill();
        let out = wait_out(launcher, "mcpcell exec --backend container -- probe sleep".into(), CELL_TIMEOUT);
        panic!("the container's sleeping probe never appeared:{}", out.describe());
    }
    Running { launcher, id }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
        let _ = docker(&["rm", "-f", &self.id]);
    }
}

// ============================================================================== the container

#[test]
fn hardening_is_set_on_the_created_container() {
    let marker = unique("inspect");
    let c = ccell().flag("--pids", "77").flag("--memory", "300MiB");
    let running = start_sleeper(c, &marker);
    let out = docker(&["inspect", &running.id]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    let v: Value = serde_json::from_str(&out.stdout()).unwrap();
    let hc = &v[0]["HostConfig"];
    let cfg = &v[0]["Config"];
    assert_eq!(hc["ReadonlyRootfs"], true, "read-only root filesystem");
    // Docker reports "ALL"; Podman lists what it dropped, which must be all of its defaults.
    let podman_defaults = [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ];
    let dropped: Vec<&str> = hc["CapDrop"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        dropped == ["ALL"] || podman_defaults.iter().all(|c| dropped.contains(c)),
        "every capability dropped: {dropped:?}"
    );
    assert!(hc["CapAdd"].is_null() || hc["CapAdd"] == serde_json::json!([]), "no capability added: {}", hc["CapAdd"]);
    assert_eq!(hc["Privileged"], false);
    let secopt: Vec<String> =
        hc["SecurityOpt"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert!(
        secopt.iter().any(|s| s == "no-new-privileges:true" || s == "no-new-privileges"),
        "no-new-privileges: {secopt:?}"
    );
    let seccomp = secopt.iter().find_map(|s| s.strip_prefix("seccomp=")).expect("a seccomp profile");
    // Docker keeps the profile itself; Podman the path mcpcell wrote it to.
    let seccomp =
        if seccomp.starts_with('/') { std::fs::read_to_string(seccomp).unwrap() } else { seccomp.to_string() };
    let seccomp: Value = serde_json::from_str(&seccomp).unwrap();
    for denied in ["ptrace", "bpf", "userfaultfd", "io_uring_setup", "perf_event_open", "keyctl", "mount", "unshare"] {
        assert!(
            seccomp["syscalls"].as_array().unwrap().iter().any(|r| r["names"][0] == denied),
            "the engine seccomp profile does not deny {denied}"
        );
    }
    assert_eq!(cfg["User"], format!("{NOBODY}:{NOBODY}"), "a non-root user");
    assert_eq!(hc["PidsLimit"], 77);
    assert_eq!(hc["Memory"], 300 << 20);
    assert_eq!(hc["NetworkMode"], "none");
    // An IPC namespace of its own ("private"; Podman reports its own namespaces as "shareable").
    assert!(hc["IpcMode"] == "private" || hc["IpcMode"] == "shareable", "ipc: {}", hc["IpcMode"]);
    // Namespaces of its own: Docker leaves the modes empty, Podman says "private".
    for mode in ["PidMode", "UTSMode"] {
        let m = hc[mode].as_str().unwrap_or("");
        assert!(m.is_empty() || m == "private", "{mode}: {m} (no host namespace)");
    }
    assert_eq!(hc["LogConfig"]["Type"], "none", "stdio (MCP traffic) is never logged to disk");
    // Not auto-removed: mcpcell reads the exit status, then removes it (`nothing_is_left_after_a_run`).
    assert_eq!(hc["AutoRemove"], false);
    assert!(hc["Tmpfs"]["/tmp"].as_str().unwrap().starts_with("size="), "size-limited /tmp: {}", hc["Tmpfs"]);
    let mounts = v[0]["Mounts"].as_array().unwrap();
    for m in mounts {
        let src = m["Source"].as_str().unwrap_or("");
        assert!(!src.contains("docker.sock") && src != "/" && src != "/var/run", "mount of {src}");
    }
    // The environment holds no secrets or launcher state: the init gets it over stdin.
    // mcpcell sets none; only the engine's own defaults may appear (the server never sees them:
    // the init executes it with the profile's environment).
    let engine_defaults = ["PATH", "container", "TERM", "HOSTNAME", "HOME"];
    for v in cfg["Env"].as_array().into_iter().flatten() {
        let name = v.as_str().unwrap_or("").split('=').next().unwrap_or("");
        assert!(engine_defaults.contains(&name), "the container's configured environment has {name}: {}", cfg["Env"]);
    }
}

#[test]
fn exit_statuses_are_mirrored() {
    let out = ccell().run("/bin/sh", &["-c", "exit 7"], None);
    assert_code(&out, 7, "a server exiting 7");
    let out = ccell().run("/bin/sh", &["-c", "kill -TERM $$"], None);
    assert_code(&out, 128 + libc::SIGTERM, "a server killed by SIGTERM");
    let out = ccell().run("/nonexistent/program", &[], None);
    assert!(out.code() == 127 || out.code() == 125, "a missing program: {}", out.describe());
}

#[test]
fn stdio_is_relayed_both_ways() {
    let out = ccell().run("/bin/cat", &[], Some(b"line one\nline two\n"));
    assert_code(&out, 0, "cat in a container");
    assert_eq!(out.stdout(), "line one\nline two\n");
    let out = ccell().run("/bin/sh", &["-c", "echo to-stderr >&2"], None);
    assert!(out.stderr().contains("to-stderr"), "stderr relayed:{}", out.describe());
}

// ============================================================================== filesystem

#[test]
fn ungranted_files_are_absent_and_grants_work() {
    let sc = Scratch::new("c-fs");
    let granted = sc.dir("granted");
    let ok = sc.file("granted/visible.txt", "visible\n");
    let secret = sc.file("secret/canary.txt", "canary: must stay on the host\n");
    let c = ccell().read(&granted);
    assert_allowed(&c.probe(&["read-file", s(&ok)]), "reading a file in a --read grant");
    assert_denied(&c.probe(&["read-file", s(&secret)]), "reading an ungranted sibling");
    assert_denied(&c.probe(&["read-file", "/etc/shadow"]), "reading /etc/shadow");
    assert_allowed(&host_probe(&["read-file", "/etc/shadow"]), "root reading /etc/shadow on the host");
    for f in ["/etc/passwd", "/etc/hosts", "/etc/resolv.conf"] {
        assert_allowed(&c.probe(&["read-file", f]), &format!("reading the cell's generated {f}"));
    }
}

#[test]
fn read_only_grants_and_system_trees_cannot_be_written() {
    let sc = Scratch::new("c-ro");
    let ro = writable_dir(&sc, "ro");
    let rw = writable_dir(&sc, "rw");
    assert_denied(&ccell().read(&ro).probe(&["write-file", s(&ro.join("x")), "data"]), "writing into a --read grant");
    assert_allowed(
        &ccell().write(&rw).probe(&["write-file", s(&rw.join("x")), "data"]),
        "writing into a --write grant",
    );
    assert_eq!(std::fs::read_to_string(rw.join("x")).unwrap(), "data");
    assert_denied(&ccell().probe(&["write-file", "/usr/mcpcell-escape", "data"]), "writing under /usr");
    assert_denied(&ccell().probe(&["write-file", "/mcpcell-escape", "data"]), "writing to the root filesystem");
    assert_allowed(&ccell().probe(&["write-file", "/tmp/ok", "data"]), "writing to the private /tmp");
}

#[test]
fn a_writable_grant_the_container_user_cannot_write_is_refused_before_start() {
    let sc = Scratch::new("c-rw-root");
    let rw = sc.dir("rw");
    std::fs::set_permissions(&rw, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ccell().write(&rw).probe(&["write-file", s(&rw.join("x")), "data"]);
    assert_code(&out, 125, "a --write grant uid 65534 cannot write");
    assert!(out.stderr().contains("chown 65534:65534"), "the error names the fix:{}", out.describe());
}

#[test]
fn host_sockets_are_absent() {
    // Control: the engine's socket exists on the host.
    assert!(Path::new("/var/run/docker.sock").exists(), "the control needs the engine's socket on the host");
    for p in ["/var/run/docker.sock", "/run/docker.sock", "/run/dbus/system_bus_socket"] {
        assert_denied(&ccell().probe(&["stat", p]), &format!("seeing {p}"));
    }
}

#[test]
fn symlinks_out_of_a_grant_are_not_followed_out() {
    let sc = Scratch::new("c-symlink");
    let granted = sc.dir("granted");
    let secret = sc.file("secret/canary.txt", "canary\n");
    let link = granted.join("link");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    assert_denied(&ccell().read(&granted).probe(&["follow-symlink-read", s(&link)]), "following a symlink out");
    assert_allowed(
        &ccell().read(&granted).read(sc.join("secret")).probe(&["follow-symlink-read", s(&link)]),
        "following it when its target is granted too",
    );
}

// ============================================================================== processes

#[test]
fn host_processes_are_invisible_and_unsignallable() {
    let sleeper = host_sleeper();
    let pid = sleeper.pid().to_string();
    assert_denied(&ccell().probe(&["kill", &pid, "0"]), "signalling a host process");
    assert_denied(&ccell().probe(&["stat", &format!("/proc/{pid}")]), "seeing a host process in /proc");
    assert_allowed(&host_probe(&["kill", &pid, "0"]), "signalling it from the host");
}

#[test]
fn no_capabilities_and_no_new_privileges() {
    let out = ccell().probe(&["whoami"]);
    assert_allowed(&out, "whoami");
    let text = out.data().join("\n");
    for field in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
        assert!(text.contains(&format!("{field}: 0000000000000000")), "{field} not empty:\n{text}");
    }
    assert!(text.contains("NoNewPrivs: 1"), "no_new_privs:\n{text}");
    assert!(text.contains(&format!("Uid: {NOBODY} ")), "non-root:\n{text}");
    // The engine's filter, then the jail's two (guard and deny list) from the init.
    assert!(text.contains("Seccomp: 2") && text.contains("Seccomp_filters: 3"), "seccomp layers:\n{text}");
    // Control: the host's root has capabilities, so the probe would show them if it could.
    let host = host_probe(&["whoami"]).data().join("\n");
    assert!(!host.contains("CapEff: 0000000000000000"), "control: root on the host has capabilities:\n{host}");
}

// ============================================================================== kernel surface

#[test]
fn kernel_surface_is_refused() {
    for (action, what) in [
        (vec!["bpf"], "bpf(2)"),
        (vec!["userfaultfd"], "userfaultfd(2)"),
        (vec!["io-uring-setup"], "io_uring_setup(2)"),
        (vec!["perf-event-open"], "perf_event_open(2)"),
        (vec!["unshare-user"], "unshare(CLONE_NEWUSER)"),
        (vec!["mount-tmpfs", "/tmp"], "mount(2)"),
        (vec!["keyctl-session-to-parent"], "KEYCTL_SESSION_TO_PARENT"),
        (vec!["i386-syscall"], "an i386 int 0x80 syscall"),
    ] {
        let out = ccell().probe(&action);
        assert_refused(&out, what);
        // Control: the same probe action works on the host (root), so "refused" is the cell.
        let host = host_probe(&action);
        assert_eq!(host.code(), 0, "control: {what} on the host:{}", host.describe());
    }
}

// ============================================================================== network

#[test]
fn the_host_network_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    assert_denied(&ccell().probe(&["tcp-connect", &addr]), "connecting to the host's loopback");
    assert_allowed(&host_probe(&["tcp-connect", &addr]), "connecting from the host");
    let out = ccell().probe(&["list-netdevs"]);
    assert_allowed(&out, "listing network devices");
    assert_eq!(out.data(), vec!["lo".to_string()], "only loopback in the container");
}

// ============================================================================== resources

#[test]
fn fork_and_memory_bombs_are_contained() {
    assert_denied(&ccell().flag("--pids", "64").probe(&["fork-bomb", "1000"]), "forking 1000 with --pids 64");
    assert_allowed(&ccell().flag("--pids", "64").probe(&["fork-bomb", "16"]), "forking 16 with --pids 64");
    let out = ccell().flag("--memory", "256MiB").probe(&["alloc-mb", "1024"]);
    assert!(
        out.code() == 128 + libc::SIGKILL
            || out.code() == 137
            || (out.code() == 1 && out.verdict().starts_with("DENIED:")),
        "ESCAPE: 1024 MiB with --memory 256MiB:{}",
        out.describe()
    );
    assert_allowed(&ccell().flag("--memory", "256MiB").probe(&["alloc-mb", "64"]), "64 MiB with --memory 256MiB");
}

// ============================================================================== lifecycle

#[test]
fn sigkill_of_the_launcher_removes_the_container() {
    let marker = unique("c-orphan");
    let mut running = start_sleeper(ccell(), &marker);
    let pid = running.launcher.id();
    signal(pid, libc::SIGKILL);
    let _ = running.launcher.wait();
    // The shim dies with the launcher, the attach connection closes, the container's stdin
    // hangs up, its init stops the server, the engine removes the container.
    let gone = eventually(Duration::from_secs(20), || containers_of(pid).is_empty() && procs_with(&marker).is_empty());
    assert!(gone, "left behind: containers {:?}, processes {:?}", containers_of(pid), procs_with(&marker));
}

#[test]
fn a_stale_container_is_reaped_at_the_next_start() {
    // A container labelled as started by a launcher that no longer exists (pid 1 with another
    // start time), as a SIGKILLed launcher on an engine that kept the container would leave.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let label = format!("io.mcpcell.launcher={}/1/999999999", boot.trim());
    let name = unique("mcpcell-stale");
    let image = docker(&["images", "-q", "--filter", "reference=mcpcell/base"]);
    let image_id = image.stdout().lines().next().map(str::to_string);
    let Some(image_id) = image_id else {
        // Build it through a first start (the base image is built on first use).
        assert_code(&ccell().run("/bin/true", &[], None), 0, "a first container start");
        return a_stale_container_is_reaped_at_the_next_start();
    };
    let out = docker(&["create", "--name", &name, "--label", &label, &image_id, "/usr/bin/true"]);
    assert_eq!(out.code(), 0, "{}", out.describe());
    // Control: it exists before the next start.
    assert_eq!(docker(&["inspect", &name]).code(), 0, "the stale container exists");
    assert_code(&ccell().run("/bin/true", &[], None), 0, "the next start");
    let out = docker(&["inspect", &name]);
    assert_ne!(out.code(), 0, "the stale container survived the next start:{}", out.describe());
}

#[test]
fn nothing_is_left_after_a_run() {
    let mut cmd = ccell().command("/bin/true", &[]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let out = wait_out(child, "mcpcell exec --backend container -- true".into(), CELL_TIMEOUT);
    assert_code(&out, 0, "true in a container");
    assert!(
        eventually(Duration::from_secs(10), || containers_of(pid).is_empty()),
        "container left: {:?}",
        containers_of(pid)
    );
    let dirs: Vec<_> = std::fs::read_dir("/run/mcpcell/containers")
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(!dirs.iter().any(|d| d.contains(&format!("-{pid}-"))), "private files left: {dirs:?}");
}

// ============================================================================== a real server

#[test]
fn filesystem_server_in_a_container_sees_only_the_grants() {
    let sc = Scratch::new("c-real");
    let ro = sc.dir("ro");
    sc.file("ro/granted.txt", "hello from the granted directory\n");
    let canary = sc.file("secret/canary.txt", "canary-content-that-must-not-cross-the-container");
    let home = sc.dir("home");
    let profile = sc.file(
        "profile.toml",
        &format!(
            "[server]\ncommand = \"mcp-server-filesystem\"\nargs = [\"/\"]\n[sandbox]\nbackend = \"container\"\n\
             [filesystem]\nread = [\"{}\"]\n",
            ro.display()
        ),
    );
    let calls = serde_json::json!([
        {"name": "granted", "tool": "read_text_file", "arguments": {"path": ro.join("granted.txt")}},
        {"name": "canary", "tool": "read_text_file", "arguments": {"path": canary}},
        {"name": "shadow", "tool": "read_text_file", "arguments": {"path": "/etc/shadow"}},
        {"name": "write_ro", "tool": "write_file", "arguments": {"path": ro.join("new.txt"), "content": "no"}},
    ]);
    let (report, out) = mcp_session(&profile, &calls, Some(&home));
    let call = |name: &str| {
        let c = &report["calls"][name];
        (
            c["is_error"].as_bool().unwrap_or_else(|| panic!("no result for {name}:{}", out.describe())),
            c["text"].to_string(),
        )
    };
    let (err, text) = call("granted");
    assert!(!err && text.contains("hello from the granted directory"), "control: the grant is served: {text}");
    for name in ["canary", "shadow", "write_ro"] {
        let (err, text) = call(name);
        assert!(err, "ESCAPE (container): {name} succeeded through the server: {text}");
        assert!(!text.contains("canary-content-that-must-not-cross"), "the canary crossed the container: {text}");
    }
    assert!(!ro.join("new.txt").exists(), "a file appeared in the read-only grant");
}

// ============================================================================== explain, doctor

#[test]
fn explain_and_doctor_show_the_container_backend() {
    let sc = Scratch::new("c-explain");
    let profile = sc.file("c.toml", "[server]\ncommand = \"/bin/true\"\n[sandbox]\nbackend = \"container\"\n");
    let out = mcpcell_run(&["explain", s(&profile)]);
    assert_code(&out, 0, "explain");
    let text = out.stdout();
    assert!(text.contains("backend: container"), "{text}");
    assert!(text.contains("image mcpcell/base:"), "{text}");
    assert!(text.contains("user 65534:65534"), "{text}");
    // Control: the same profile on the jail says so.
    let jail = sc.file("j.toml", "[server]\ncommand = \"/bin/true\"\n");
    let text = mcpcell_run(&["explain", s(&jail)]).stdout();
    assert!(text.contains("backend: jail") && !text.contains("backend: container"), "{text}");

    let out = mcpcell_run(&["doctor", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["container_engine"]["available"], true, "{}", out.describe());
    assert!(v["engine"]["api_version"].as_str().is_some_and(|a| a.starts_with("1.")), "{}", v["engine"]);
    // Control: with DOCKER_HOST pointing nowhere, the engine is reported missing, with why.
    let mut cmd = mcpcell_cmd(&["doctor", "--json"]);
    cmd.env("DOCKER_HOST", format!("unix://{}", sc.join("no.sock").display()));
    let v: Value = serde_json::from_str(&run_cmd(cmd, None, Duration::from_secs(30)).stdout()).unwrap();
    assert_eq!(v["container_engine"]["available"], false);
    assert!(v["container_engine"]["detail"].as_str().unwrap().contains("no.sock"), "{}", v["container_engine"]);
}

#[test]
fn no_engine_is_a_clear_refusal() {
    let sc = Scratch::new("c-noengine");
    let mut cmd = ccell().command("/bin/true", &[]);
    cmd.env("DOCKER_HOST", format!("unix://{}", sc.join("no.sock").display()));
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_code(&out, 125, "a container start with no engine");
    assert!(out.stderr().contains("does not answer") && out.stderr().contains("DOCKER_HOST"), "{}", out.describe());
}

// ============================================================================== images

/// Builds the python image once per test run (`mcpcell image build python`, from this host).
fn python_image() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let uv = std::env::var("MCPCELL_TEST_UV").expect("MCPCELL_TEST_UV (set by scripts/test)");
            let out = mcpcell_run(&["image", "build", "python", "--uv", &uv]);
            assert_code(&out, 0, "mcpcell image build python");
            assert!(out.stderr().contains("built mcpcell/python:"), "progress is shown:{}", out.describe());
            let list = mcpcell_run(&["image", "list"]).stdout();
            list.lines()
                .find_map(|l| {
                    l.split_whitespace().next().filter(|r| r.starts_with("mcpcell/python:")).map(str::to_string)
                })
                .expect("the python image is listed")
        })
        .clone()
}

#[test]
fn an_image_brings_its_own_runtime_without_the_hosts() {
    let image = python_image();
    let script = "import os, ssl; print('node' if os.path.exists('/usr/bin/node') else 'no-node')";
    let out = ccell().flag("--image", &image).run("python3", &["-c", script], None);
    assert_code(&out, 0, "python3 from the python image");
    assert_eq!(out.stdout().trim(), "no-node", "the host's /usr shows through the image:{}", out.describe());
    // "Python with uv": uv runs from the image too.
    let out = ccell().flag("--image", &image).run("uv", &["--version"], None);
    assert_code(&out, 0, "uv from the python image");
    assert!(out.stdout().starts_with("uv "), "{}", out.describe());
    // Control: without an image the host's system trees are bound, and the host has node.
    assert!(Path::new("/usr/bin/node").exists(), "the control needs node on the host");
    let out = ccell().run("/usr/bin/python3", &["-c", script], None);
    assert_eq!(out.stdout().trim(), "node", "base mode binds the host's /usr:{}", out.describe());
}

#[test]
fn a_pypi_server_runs_in_the_python_image() {
    let venv = std::env::var("MCPCELL_TEST_FETCH_VENV").expect("MCPCELL_TEST_FETCH_VENV (set by scripts/test)");
    let image = python_image();
    let sc = Scratch::new("c-fetch");
    let profile = sc.file(
        "fetch.toml",
        &format!(
            "[server]\ncommand = \"{venv}/bin/mcp-server-fetch\"\n[filesystem]\nread = [\"{venv}\"]\n\
             [sandbox]\nbackend = \"container\"\nimage = \"{image}\"\n"
        ),
    );
    let (report, out) = mcp_session(&profile, &serde_json::json!([]), Some(&sc.path));
    let tools: Vec<&str> = report["tools"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(tools, vec!["fetch"], "mcp-server-fetch's tools through the python image:{}", out.describe());
}

#[test]
fn image_mistakes_are_refused_with_the_fix() {
    let sc = Scratch::new("c-image-errors");
    let jail = sc.file("j.toml", "[server]\ncommand = \"/bin/true\"\n[sandbox]\nimage = \"mcpcell/python:x\"\n");
    let out = mcpcell_run(&["run", s(&jail)]);
    assert_code(&out, 125, "an image with the jail backend");
    assert!(out.stderr().contains("only applies to backend = \"container\""), "{}", out.describe());
    let out = ccell().flag("--image", "mcpcell/nonexistent:1").run("/bin/true", &[], None);
    assert_code(&out, 125, "a missing image");
    assert!(
        out.stderr().contains("not present in the engine") && out.stderr().contains("mcpcell image build"),
        "{}",
        out.describe()
    );
    // Control: an image that exists starts.
    assert_code(
        &ccell().flag("--image", python_image()).run("/usr/bin/true", &[], None),
        127,
        "true is not in the python image",
    );
    assert_code(&ccell().flag("--image", python_image()).run("python3", &["-c", "pass"], None), 0, "python3 is");
}

#[test]
fn a_writable_submount_under_a_read_only_grant_stays_read_only() {
    // An engine's read-only bind is only read-only at its top before Docker 25: a writable host
    // mount beneath a read-only grant stayed writable. Under /tmp (a writable tmpfs in the
    // cell, so Landlock allows writes beneath it) only the mounts themselves can stop it.
    let sc = Scratch::in_tmp("c-submount");
    let ro = sc.dir("ro");
    let sub = sc.dir("ro/sub");
    let rc =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs"]).arg(&sub).status().unwrap();
    assert!(rc.success(), "mounting a tmpfs on the host (the test runs as root)");
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _umount = Umount(sub.clone());
    assert_denied(
        &ccell().read(&ro).probe(&["write-file", s(&sub.join("x")), "data"]),
        "writing to a writable host mount beneath a --read grant",
    );
    assert!(!sub.join("x").exists(), "a file appeared on the host");
    std::fs::write(sub.join("visible"), "host content\n").unwrap();
    let out = ccell().read(&ro).probe(&["read-file", s(&sub.join("visible"))]);
    assert_allowed(&out, "reading the host mount beneath the --read grant (it is visible, read-only)");
    // Control: granted writable, the same write lands.
    assert_allowed(
        &ccell().write(&sub).probe(&["write-file", s(&sub.join("x")), "data"]),
        "the same write with --write",
    );
}

// ============================================================================== egress

/// A one-line HTTP server on `ip`, answering `200 served-by-NAME` to every connection.
fn http_server(ip: &str, name: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = format!("served-by-{name}");
                let _ = write!(s, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            });
        }
    });
    port
}

#[test]
fn egress_by_name_works_in_a_container() {
    // The same names scripts/test puts in /etc/hosts for the jail's egress tests.
    let allowed_port = http_server("127.0.0.2", "allowed");
    let other_port = http_server("127.0.0.3", "other");
    let c = ccell().flag("--allow-private-host", format!("allowed.egress.test:{allowed_port}"));
    let curl = |c: &Cell, url: &str| c.run("/usr/bin/curl", &["-sS", "--noproxy", "*", "-m", "10", url], None);
    // Control: the allowed name is reached, through netd in the container and mcpcell's proxy.
    let out = curl(&c, &format!("http://allowed.egress.test:{allowed_port}/"));
    assert_eq!(out.stdout(), "served-by-allowed", "the allowed host by name:{}", out.describe());
    // Another name does not resolve; a raw address (even the allowed host's) and another port
    // have no route out.
    let out = curl(&c, &format!("http://other.egress.test:{other_port}/"));
    assert_ne!(out.code(), 0, "ESCAPE (container): an unlisted name:{}", out.describe());
    assert!(out.stderr().contains("Could not resolve host"), "NXDOMAIN for an unlisted name:{}", out.describe());
    for url in [format!("http://127.0.0.2:{allowed_port}/"), format!("http://127.0.0.3:{other_port}/")] {
        let out = curl(&c, &url);
        assert!(
            out.code() != 0 && !out.stdout().contains("served-by"),
            "ESCAPE (container): {url} was reached:{}",
            out.describe()
        );
    }
    // And with no egress at all, not even the allowed name resolves (no DNS in the container).
    let out = curl(&ccell(), &format!("http://allowed.egress.test:{allowed_port}/"));
    assert!(out.code() != 0 && !out.stdout().contains("served-by"), "no egress declared:{}", out.describe());
}

// ============================================================================== secrets

#[test]
fn secrets_reach_the_server_but_never_the_container_configuration() {
    const SECRET: &str = "canary-container-secret-51c0de";
    let scrub = |t: &str| t.replace(SECRET, "<LEAKED SECRET>");
    let sc = Scratch::new("c-secrets");
    let profile = sc.file(
        "env.toml",
        &format!(
            "[server]\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"env; sleep 3\"]\n[sandbox]\nbackend = \"container\"\n\
             [secrets.API_TOKEN]\nsource = \"command\"\ncommand = [\"/usr/bin/printf\", \"{SECRET}\"]\n"
        ),
    );
    let mut cmd = mcpcell_cmd(&["run", s(&profile)]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut inspected = String::new();
    assert!(
        eventually(Duration::from_secs(30), || {
            let ids = containers_of(pid);
            match ids.first() {
                Some(id) => {
                    inspected = docker(&["inspect", id]).stdout();
                    !inspected.is_empty()
                }
                None => false,
            }
        }),
        "the container never appeared"
    );
    assert!(!inspected.contains(SECRET), "the secret is in the container's configuration: {}", scrub(&inspected));
    assert!(!inspected.contains("API_TOKEN"), "the secret's variable is in the container's configuration");
    let out = wait_out(child, "mcpcell run (container, secret)".into(), CELL_TIMEOUT);
    assert_code(&out, 0, "sh printing its environment");
    // Control: the server did get it (as API_TOKEN), and the relay redacted it on the way out.
    assert!(
        out.stdout().contains("API_TOKEN=[REDACTED:API_TOKEN]"),
        "delivered and redacted: {}",
        scrub(&out.stdout())
    );
    assert!(!format!("{}{}", out.stdout(), out.stderr()).contains(SECRET), "{}", scrub(&out.stdout()));
}

#[test]
fn stdin_eof_reaches_the_server_through_the_relay() {
    // With the MCP-aware relay on ([tools]), the client's EOF must reach the server as EOF (it
    // exits 0 by itself), not end in SIGTERM after the grace period (143).
    let sc = Scratch::new("c-eof");
    let profile = sc.file(
        "cat.toml",
        "[server]\ncommand = \"/bin/cat\"\n[sandbox]\nbackend = \"container\"\nshutdown_grace_ms = 20000\n\
         [tools]\non_poisoned = \"warn\"\n",
    );
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), Some(line), CELL_TIMEOUT);
    assert_code(&out, 0, "cat ending at EOF through the relay in a container");
    assert_eq!(out.stdout().as_bytes(), line, "the line came back");
    // Control: the zero-copy path in the jail ends the same way.
    let jail = sc.file("jail.toml", "[server]\ncommand = \"/bin/cat\"\n[tools]\non_poisoned = \"warn\"\n");
    assert_code(&run_cmd(mcpcell_cmd(&["run", s(&jail)]), Some(line), CELL_TIMEOUT), 0, "the same in the jail");
}

#[test]
fn a_container_that_stops_before_its_egress_starts_reports_its_own_status() {
    // The init fails before it starts netd (the command is not in the image): the launcher must
    // report the init's status (127), not wait for netd and give up with its own (125).
    let c = ccell().flag("--image", python_image()).flag("--allow-private-host", "allowed.egress.test:4443");
    let out = c.run("no-such-command-in-the-image", &[], None);
    assert_code(&out, 127, "a missing command in a container with egress");
    assert!(out.stderr().contains("not found in the image's PATH"), "the init's reason:{}", out.describe());
    // Control: with a command that exists, the same cell starts (netd connects).
    assert_code(&c.run("python3", &["-c", "pass"], None), 0, "python3 with egress");
}
