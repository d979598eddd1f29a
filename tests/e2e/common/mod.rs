//! Helpers shared by the end-to-end tests: finding the binaries, running `mcpcell exec` around the
//! probe, running the probe on the host for positive controls, scratch directories, and
//! assertions whose messages show everything the cell printed.
#![allow(dead_code)]

pub mod host;
pub mod live;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any single cell may run before the test gives up on it (generous: a hang is a bug,
/// not a slow machine).
pub const CELL_TIMEOUT: Duration = Duration::from_secs(90);

pub fn probe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcpcell-probe"))
}

/// The directory holding the probe (and the mcpcell binary): granted read-only to every cell that
/// runs the probe.
pub fn bin_dir() -> PathBuf {
    probe().parent().expect("probe has a parent directory").to_path_buf()
}

pub fn mcpcell() -> PathBuf {
    let p = probe().with_file_name("mcpcell");
    if !p.is_file() {
        panic!(
            "the mcpcell binary is missing at {}: run `cargo build --workspace` first \
             (scripts/test does this for you)",
            p.display()
        );
    }
    p
}

// ------------------------------------------------------------------------------------- outputs

/// What a finished process left behind.
pub struct Out {
    pub cmdline: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Out {
    /// The exit code as a shell would report it: the code, or 128+signal.
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => -1,
        }
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// The probe's verdict line (first line of stdout).
    pub fn verdict(&self) -> String {
        self.stdout().lines().next().unwrap_or("").to_string()
    }
    /// The probe's data lines (everything after the verdict line).
    pub fn data(&self) -> Vec<String> {
        self.stdout().lines().skip(1).map(str::to_string).collect()
    }
    pub fn describe(&self) -> String {
        format!(
            "\n  command: {}\n  exit: {} ({:?})\n  --- stdout ---\n{}\n  --- stderr ---\n{}\n  --------------",
            self.cmdline,
            self.code(),
            self.status,
            indent(&self.stdout()),
            indent(&self.stderr())
        )
    }
}

fn indent(s: &str) -> String {
    let s = if s.len() > 8000 {
        format!("{}\n    ...[{} bytes cut]", &s[..floor_char(s, 8000)], s.len() - 8000)
    } else {
        s.to_string()
    };
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The attack succeeded where it must not have.
#[track_caller]
pub fn assert_denied(out: &Out, what: &str) {
    assert!(
        out.code() == 1 && out.verdict().starts_with("DENIED:"),
        "ESCAPE: {what} was expected to be DENIED inside the cell (probe exit 1, `DENIED:` line), \
         but it was not:{}",
        out.describe()
    );
}

/// The positive control did not succeed: the test cannot tell a denial from a broken probe.
#[track_caller]
pub fn assert_allowed(out: &Out, what: &str) {
    assert!(
        out.code() == 0 && out.verdict().starts_with("ALLOWED:"),
        "positive control failed: {what} was expected to be ALLOWED (probe exit 0, `ALLOWED:` line):{}",
        out.describe()
    );
}

#[track_caller]
pub fn assert_code(out: &Out, code: i32, what: &str) {
    assert_eq!(out.code(), code, "{what}: expected exit status {code}:{}", out.describe());
}

// ------------------------------------------------------------------------------------- running

/// Runs a command to completion feeding it `stdin` then EOF (None: an open, silent pipe), collecting output,
/// killing it and failing the test if it outlives `timeout`.
pub fn run_cmd(mut cmd: Command, stdin: Option<&[u8]>, timeout: Duration) -> Out {
    let cmdline = render(&cmd);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {cmdline}: {e}"));
    let w = child.stdin.take().unwrap();
    let mut keep_open = None;
    match stdin {
        Some(input) => {
            let input = input.to_vec();
            let mut w = w;
            std::thread::spawn(move || {
                let _ = w.write_all(&input);
                // dropping w closes the pipe: EOF for the cell
            });
        }
        // No input: stdin stays open (as an MCP client keeps it) until the process has exited,
        // so that no test depends on what the launcher does at stdin EOF.
        None => keep_open = Some(w),
    }
    let out = wait_out(child, cmdline, timeout);
    drop(keep_open);
    out
}

/// Collects stdout/stderr of an already spawned child (both must be piped) and waits for it.
pub fn wait_out(mut child: Child, cmdline: String, timeout: Duration) -> Out {
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = match wait_timeout(&mut child, timeout) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let out = Out { cmdline: cmdline.clone(), status, stdout: to.join().unwrap(), stderr: te.join().unwrap() };
            panic!("TIMEOUT: {cmdline} did not finish within {timeout:?} and was killed:{}", out.describe());
        }
    };
    Out { cmdline, status, stdout: to.join().unwrap(), stderr: te.join().unwrap() }
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn render(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            // Never echo values of the test's canary / secret-looking variables.
            let k = k.to_string_lossy();
            let shown = if k.contains("CANARY") || k.contains("SECRET") || k.contains("TOKEN") {
                "<redacted>".to_string()
            } else {
                v.to_string_lossy().into_owned()
            };
            s.push_str(&format!("{k}={shown} "));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(' ') {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// Runs the probe directly on the host (positive controls for kernel-surface attacks).
pub fn host_probe(args: &[&str]) -> Out {
    let mut cmd = Command::new(probe());
    cmd.args(args);
    run_cmd(cmd, None, CELL_TIMEOUT)
}

/// Environment variable choosing the backend every `mcpcell exec` of the battery uses
/// (`jail` or `container`); unset: mcpcell's default. The one place the battery's cells are
/// built (here and in [`profile_text`]), so that the same tests run on each backend.
pub const BACKEND_ENV: &str = "MCPCELL_TEST_BACKEND";

pub fn test_backend() -> Option<String> {
    std::env::var(BACKEND_ENV).ok().filter(|b| !b.is_empty())
}

/// Whether the battery runs on the container backend (where a few properties differ by design:
/// see SECURITY.md, "The container backend").
pub fn on_container() -> bool {
    test_backend().as_deref() == Some("container")
}

/// chown -R (without following symlinks), for what a test grants writable to a container.
fn chown_tree(p: &Path, id: u32) {
    let _ = std::os::unix::fs::lchown(p, Some(id), Some(id));
    let is_dir = std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false);
    if is_dir {
        for entry in std::fs::read_dir(p).into_iter().flatten().flatten() {
            chown_tree(&entry.path(), id);
        }
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// A profile's TOML for the tests that start servers with `mcpcell run PROFILE`: `body` plus the
/// backend chosen by $MCPCELL_TEST_BACKEND (a `[sandbox]` table, so `body` must not have one;
/// use `sandbox` for its other keys).
pub fn profile_text(body: &str, sandbox: &str) -> String {
    let backend = test_backend().map(|b| format!("backend = \"{b}\"\n")).unwrap_or_default();
    format!("{body}\n\n[sandbox]\n{backend}{sandbox}\n")
}

/// Builder for `mcpcell exec [flags] -- COMMAND ARGS...`.
#[derive(Clone, Default)]
pub struct Cell {
    flags: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    grant_bin_dir: bool,
}

pub fn cell() -> Cell {
    Cell { grant_bin_dir: true, ..Default::default() }
}

impl Cell {
    /// A cell that is not given the probe's directory (for commands from /usr or /bin).
    pub fn bare() -> Cell {
        Cell::default()
    }
    pub fn read(mut self, p: impl AsRef<Path>) -> Self {
        self.flags.push("--read".into());
        self.flags.push(p.as_ref().into());
        self
    }
    pub fn write(mut self, p: impl AsRef<Path>) -> Self {
        // A root launcher's container runs its server as uid 65534 (never as root): a
        // --write grant must be writable by that uid, as mcpcell checks before the start.
        if on_container() && nix_is_root() {
            chown_tree(p.as_ref(), 65534);
        }
        self.flags.push("--write".into());
        self.flags.push(p.as_ref().into());
        self
    }
    pub fn flag(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.flags.push(name.into());
        self.flags.push(value.into());
        self
    }
    /// An environment variable of the *launcher* process (not passed into the cell unless a
    /// `--env` flag says so).
    pub fn launcher_env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }
    pub fn command(&self, program: impl AsRef<Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(mcpcell());
        cmd.arg("exec");
        if let Some(backend) = test_backend() {
            cmd.arg("--backend").arg(backend);
        }
        if self.grant_bin_dir {
            cmd.arg("--read").arg(bin_dir());
        }
        cmd.args(&self.flags);
        cmd.arg("--").arg(program.as_ref()).args(args);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }
    /// Runs the probe inside the cell.
    pub fn probe(&self, args: &[&str]) -> Out {
        run_cmd(self.command(probe(), args), None, CELL_TIMEOUT)
    }
    /// Runs any command inside the cell, with optional stdin bytes.
    pub fn run(&self, program: impl AsRef<Path>, args: &[&str], stdin: Option<&[u8]>) -> Out {
        run_cmd(self.command(program, args), stdin, CELL_TIMEOUT)
    }
}

// ------------------------------------------------------------------------------------- files

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh unique string for markers and file names.
pub fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{tag}-{}-{n}-{t:x}", std::process::id())
}

/// A scratch directory removed when dropped. Lives under cargo's target/tmp (not /tmp, which the
/// cell replaces with a private tmpfs) unless created with [`Scratch::in_tmp`].
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        Self::under(Path::new(env!("CARGO_TARGET_TMPDIR")), tag)
    }
    pub fn in_tmp(tag: &str) -> Scratch {
        Self::under(Path::new("/tmp"), tag)
    }
    fn under(base: &Path, tag: &str) -> Scratch {
        let path = base.join(unique(&format!("mcpcell-e2e-{tag}")));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Scratch { path }
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
    /// Creates a directory (and parents) inside the scratch dir.
    pub fn dir(&self, p: &str) -> PathBuf {
        let d = self.path.join(p);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
    /// Writes a file (creating parents) inside the scratch dir.
    pub fn file(&self, p: &str, content: &str) -> PathBuf {
        let f = self.path.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, content).unwrap();
        f
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

// ------------------------------------------------------------------------------------- processes

/// Host processes (other than this test process) whose command line contains `marker`.
pub fn procs_with(marker: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == me {
            continue;
        }
        let Ok(b) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&b).replace('\0', " ");
        if cmd.contains(marker) {
            // A zombie keeps its pid but has an empty cmdline; anything listed here is alive.
            v.push((pid, cmd.trim_end().to_string()));
        }
    }
    v
}

/// Polls until `f` returns true or the timeout expires; returns the last value.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn alive(pid: u32) -> bool {
    // Zombies count as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// SIGKILLs every host process whose command line contains the marker when dropped, so that a
/// failing supervision test does not leave its processes behind.
pub struct KillOnDrop(pub String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for (pid, _) in procs_with(&self.0) {
            // SAFETY: kill takes plain integers and touches no memory.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// A host process that is killed (and reaped) when dropped.
pub struct HostProc(pub Child);

impl HostProc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sleep` on the host with a recognisable command line.
pub fn host_sleeper() -> HostProc {
    let child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sleep on the host");
    HostProc(child)
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill takes plain integers and touches no memory.
    let r = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig}) failed: {}", std::io::Error::last_os_error());
}

/// Environment variable naming the Python interpreter that has the `mcp` SDK.
pub const PYTHON_ENV: &str = "MCPCELL_TEST_PYTHON";

/// The Python interpreter with the `mcp` SDK: $MCPCELL_TEST_PYTHON, else tests/.venv/bin/python.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os(PYTHON_ENV) {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "no Python with the `mcp` SDK: set {PYTHON_ENV} or run scripts/test, which creates \
         tests/.venv with the pinned SDK"
    );
}

pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `mcpcell ARGS...` (not `exec`), e.g. `check`, `doctor`, `tools`.
pub fn mcpcell_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(mcpcell());
    c.args(args);
    c
}

pub fn mcpcell_run(args: &[&str]) -> Out {
    run_cmd(mcpcell_cmd(args), None, CELL_TIMEOUT)
}

/// One MCP session through `mcpcell run PROFILE`, driven by the real Python MCP SDK
/// (tests/clients/filesystem_client.py: initialize, list tools, make `calls`), with the
/// launcher's HOME set to `home` when given. Returns the client's JSON report and the output.
pub fn mcp_session(profile: &Path, calls: &serde_json::Value, home: Option<&Path>) -> (serde_json::Value, Out) {
    let mut cmd = Command::new(python());
    cmd.arg(tests_dir().join("clients/filesystem_client.py")).arg(mcpcell()).arg(profile).arg(calls.to_string());
    if let Some(home) = home {
        cmd.env("HOME", home);
    }
    let out = run_cmd(cmd, None, Duration::from_secs(180));
    assert_code(&out, 0, "the Python MCP client session through `mcpcell run`");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the client's report is not JSON ({e}):{}", out.describe()));
    (report, out)
}
