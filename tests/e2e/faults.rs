//! Fault tests: what the client and the host see when things go wrong mid-session. Each runs on
//! both stdio paths of `mcpcell run`: zero-copy (the server gets the client's fds; no `[tools]`)
//! and the MCP-aware relay (a `[tools]` table turns it on; runtime/src/relay/session.rs).
//!
//! - the server crashes mid-request (a real server, @modelcontextprotocol/server-everything,
//!   killed by SIGSEGV during a long-running call; a fixture exiting with a chosen status):
//!   the client's stdout ends without an answer, the launcher exits with the server's status
//!   or 128+signal;
//! - the launcher is SIGKILLed: no process, host mount, temp file or populated cgroup is left
//!   (the empty cgroup directory is removed by the next start, as documented);
//! - the client closes stdin with requests pending: the launcher shuts down within the grace
//!   periods and leaves no process;
//! - the client stops reading stdout while the server writes a lot: the server blocks (the
//!   back-pressure reaches it), and the launcher's resident memory stays bounded.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use common::host::*;
use common::live::*;
use common::*;
use serde_json::{json, Value};

/// Shutdown grace in the test profiles (SIGTERM after this, SIGKILL after as much again).
const GRACE_MS: u64 = 500;

#[derive(Clone, Copy, Debug)]
enum Path_ {
    ZeroCopy,
    Relay,
}

impl Path_ {
    fn tools_table(self) -> &'static str {
        match self {
            Path_::ZeroCopy => "",
            // Any [tools] key turns the relay on; `warn` changes nothing the server sends.
            Path_::Relay => "[tools]\non_poisoned = \"warn\"\n",
        }
    }
}

struct Fx {
    sc: Scratch,
    profile: PathBuf,
    log: PathBuf,
}

/// A profile for a real npm server (`mcp-server-everything`, `mcp-server-memory`).
fn real(tag: &str, command: &str, path: Path_, extra: &str) -> Fx {
    let sc = Scratch::new(tag);
    let body = format!("[server]\ncommand = \"{command}\"\n\n{}\n{extra}", path.tools_table());
    let profile = sc.file("profile.toml", &profile_text(&body, &format!("shutdown_grace_ms = {GRACE_MS}")));
    let log = sc.join("unused.log");
    Fx { sc, profile, log }
}

/// A profile for the fault fixture (tests/clients/fault_server.py) with its progress log.
fn fixture(tag: &str, path: Path_) -> Fx {
    let sc = Scratch::new(tag);
    let logdir = sc.dir("log");
    let log = logdir.join("progress");
    let clients = tests_dir().join("clients");
    let body = format!(
        "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\"]\nenv = {{ FAULT_LOG = \"{}\" }}\n\n\
         [filesystem]\nread = [\"{}\"]\nwrite = [\"{}\"]\n\n{}",
        clients.join("fault_server.py").display(),
        log.display(),
        clients.display(),
        logdir.display(),
        path.tools_table(),
    );
    let profile = sc.file("profile.toml", &profile_text(&body, &format!("shutdown_grace_ms = {GRACE_MS}")));
    Fx { sc, profile, log }
}

fn start(fx: &Fx) -> Live {
    let mut live = Live::start(mcpcell_cmd(&["run", s(&fx.profile)]));
    live.handshake("faults-test", json!({}));
    live
}

/// Reads stdout to EOF without closing stdin (the client is still there); returns the lines.
fn drain_to_eof(live: &mut Live, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    loop {
        match live.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                live.seen.push(line.clone());
                got.push(line);
            }
            Err(RecvTimeoutError::Disconnected) => return got,
            Err(RecvTimeoutError::Timeout) => panic!("stdout did not reach EOF within {within:?}:{}", live.describe()),
        }
    }
}

fn exit_code(live: &mut Live, within: Duration) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = wait_timeout(&mut live.child, within) else {
        panic!("the launcher did not exit within {within:?}:{}", live.describe())
    };
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn answered(lines: &[String], id: i64) -> Option<Value> {
    lines.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| v["id"] == json!(id))
}

#[track_caller]
fn assert_all_gone(pids: &[(u32, String)], what: &str) {
    let gone = eventually(Duration::from_secs(10), || pids.iter().all(|(p, _)| !alive(*p)));
    let left: Vec<_> = pids.iter().filter(|(p, _)| alive(*p)).collect();
    assert!(gone, "{what}: these cell processes are still alive: {left:?}");
}

// =================================================================================== crashes

/// server-everything's long-running call is under way (a progress notification arrived) when
/// the server dies by SIGSEGV.
fn real_server_killed_mid_request(path: Path_) {
    let fx = real(&format!("crash-{path:?}"), "mcp-server-everything", path, "");
    let mut live = start(&fx);
    let lpid = live.child.id();
    live.send(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 60, "steps": 60},
                   "_meta": {"progressToken": "crash-7"}}}));
    live.wait_for("a progress notification of the long-running call", REPLY_TIMEOUT, |v| {
        v["method"] == json!("notifications/progress")
    });
    let server = server_pid(lpid, "mcp-server-everything")
        .unwrap_or_else(|| panic!("no server process under the launcher {lpid}: {:?}", descendants(lpid)));
    let cell = descendants(lpid);
    signal(server, libc::SIGSEGV);

    let rest = drain_to_eof(&mut live, Duration::from_secs(30));
    let code = exit_code(&mut live, Duration::from_secs(30));
    assert_eq!(code, 128 + libc::SIGSEGV, "the launcher mirrors the server's death by SIGSEGV:{}", live.describe());
    match (answered(&rest, 7), path) {
        // The relay answers a call its server can no longer answer.
        (None, Path_::Relay) => panic!("the relay left the crashed server's call unanswered:{}", live.describe()),
        (None, _) => {}
        (Some(v), _) => assert!(v.get("error").is_some(), "a call whose server crashed got a result: {v}"),
    }
    assert_all_gone(&cell, "after the server crashed");
}

#[test]
fn a_real_server_crashing_mid_request_ends_the_session_with_its_signal_zero_copy() {
    real_server_killed_mid_request(Path_::ZeroCopy);
}

#[test]
fn a_real_server_crashing_mid_request_ends_the_session_with_its_signal_relay() {
    real_server_killed_mid_request(Path_::Relay);
}

/// The fixture exits with status 7 in the middle of a call (after an answered one: control).
fn server_exits_mid_request(path: Path_) {
    let fx = fixture(&format!("exit-{path:?}"), path);
    let mut live = start(&fx);
    assert_ok_text(&live.call(2, "echo", json!({"message": "before the crash"})), "before the crash");
    live.send_call(3, "exit", json!({"code": 7}));
    let rest = drain_to_eof(&mut live, Duration::from_secs(30));
    let code = exit_code(&mut live, Duration::from_secs(30));
    assert_eq!(code, 7, "the launcher exits with the server's status:{}", live.describe());
    match (answered(&rest, 3), path) {
        (None, Path_::Relay) => panic!("the relay left the exited server's call unanswered:{}", live.describe()),
        (None, _) => {}
        (Some(v), _) => assert!(v.get("error").is_some(), "a call whose server exited got a result: {v}"),
    }
}

#[test]
fn a_server_exiting_mid_request_passes_its_status_through_zero_copy() {
    server_exits_mid_request(Path_::ZeroCopy);
}

#[test]
fn a_server_exiting_mid_request_passes_its_status_through_relay() {
    server_exits_mid_request(Path_::Relay);
}

// =================================================================================== SIGKILL

/// SIGKILL the launcher of a running real server (server-memory) and count what is left.
fn sigkill_leaves_nothing(path: Path_, extra: &str, tag: &str) {
    let fx = real(tag, "mcp-server-memory", path, extra);
    let marker = fx.sc.path.file_name().unwrap().to_string_lossy().into_owned();
    let _cleanup = KillOnDrop(marker.clone());
    let before = Footprint::take(&marker);
    // Only mounts that could be mcpcell's: the whole table also moves with whatever else runs
    // on the host (a container engine's overlay mounts).
    let mounts_before = mounts_mentioning("mcpcell");

    let mut live = start(&fx);
    let lpid = live.child.id();
    let cell = descendants(lpid);
    // Control: the cell is really there (its init, the server, netd with egress).
    assert!(
        cell.iter().any(|(_, cmd)| cmd.contains("mcp-server-memory")),
        "no server process under the launcher: {cell:?}{}",
        live.describe()
    );
    let launchers = BTreeSet::from([lpid]);
    let cgroups = cell_cgroups(&launchers);
    // Control: a root launcher always has a pids cgroup (it refuses to start without one).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(!cgroups.is_empty(), "control: no cell cgroup mcpcell-{lpid} found for a root launcher");
    }
    for dir in &cgroups {
        assert!(!cgroup_procs(dir).is_empty(), "control: the cell cgroup {} holds the cell", dir.display());
    }

    signal(lpid, libc::SIGKILL);
    let _ = live.child.wait();
    assert_all_gone(&cell, "after SIGKILL of the launcher");
    let after = Footprint::take(&marker);
    assert!(after.procs.is_empty(), "processes of the cell survive: {:?}", after.procs);
    assert_eq!(after.mounts, before.mounts, "host mounts changed");
    assert_eq!(mounts_mentioning("mcpcell"), mounts_before, "host mounts mentioning mcpcell changed");
    let new_tmp = new_tmp_entries(&before.tmp, &after.tmp);
    assert!(new_tmp.is_empty(), "temp files appeared in /tmp: {new_tmp:?}");
    // The cgroup directory of a SIGKILLed launcher cannot be removed by it: it is left empty,
    // and the next start removes it (runtime/src/jail/cgroup.rs reap_stale).
    for dir in &cgroups {
        assert!(
            eventually(Duration::from_secs(5), || cgroup_procs(dir).is_empty()),
            "the cell cgroup {} still holds processes: {:?}",
            dir.display(),
            cgroup_procs(dir)
        );
    }
    let out = Cell::bare().run("/bin/true", &[], None);
    assert_code(&out, 0, "the next cell");
    let left = cell_cgroups(&launchers);
    assert!(left.is_empty(), "the next start did not remove the dead launcher's cgroups: {left:?}");
}

#[test]
fn sigkill_of_the_launcher_leaves_nothing_zero_copy() {
    sigkill_leaves_nothing(Path_::ZeroCopy, "", "kill-zc");
}

#[test]
fn sigkill_of_the_launcher_leaves_nothing_relay_with_egress() {
    // Egress adds netd in the cell and the proxy's socket in the launcher.
    sigkill_leaves_nothing(Path_::Relay, "[network]\negress = [\"allowed.egress.test:443\"]\n", "kill-relay");
}

// =================================================================================== stdin EOF

/// The client closes stdin while a long call (60 s) and pipelined requests are pending.
fn stdin_closes_with_requests_pending(path: Path_) {
    let fx = real(&format!("eof-{path:?}"), "mcp-server-everything", path, "");
    let mut live = start(&fx);
    let lpid = live.child.id();
    live.send(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 60, "steps": 60},
                   "_meta": {"progressToken": "eof-7"}}}));
    live.wait_for("a progress notification of the long-running call", REPLY_TIMEOUT, |v| {
        v["method"] == json!("notifications/progress")
    });
    for id in 8..12 {
        live.send_call(id, "echo", json!({"message": format!("pending {id}")}));
    }
    let cell = descendants(lpid);
    let closed = Instant::now();
    drop(live.stdin.take());
    // Bounded: the server's own exit, or SIGTERM after the grace period and SIGKILL after
    // another; far below the call's 60 s.
    let bound = Duration::from_millis(2 * GRACE_MS) + Duration::from_secs(20);
    drain_to_eof(&mut live, bound);
    let code = exit_code(&mut live, bound);
    let took = closed.elapsed();
    assert!(took < bound, "shutdown after stdin EOF took {took:?}");
    assert_ne!(code, 125, "mcpcell itself failed at shutdown:{}", live.describe());
    assert_all_gone(&cell, "after stdin EOF");
}

#[test]
fn stdin_closing_with_requests_pending_shuts_down_zero_copy() {
    stdin_closes_with_requests_pending(Path_::ZeroCopy);
}

#[test]
fn stdin_closing_with_requests_pending_shuts_down_relay() {
    stdin_closes_with_requests_pending(Path_::Relay);
}

// =================================================================================== slow client

const FLOOD_CHUNKS: u64 = 2048;
const FLOOD_CHUNK_BYTES: u64 = 16 * 1024;

fn progress(fx: &Fx) -> u64 {
    std::fs::read_to_string(&fx.log).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// The server floods 32 MiB (16 KiB lines) while the client reads nothing: the server must stall (pipes and the
/// relay's bounded buffers fill up) and the launcher's memory must stay flat; then the client
/// reads everything (control: the flood was real).
fn client_stops_reading(path: Path_) {
    let fx = fixture(&format!("slow-{path:?}"), path);
    let mut cmd = mcpcell_cmd(&["run", s(&fx.profile)]);
    let cmdline = render(&cmd);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {cmdline}: {e}"));
    let _guard = KillChild(child.id());
    let lpid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
    });
    let mut send = move |v: Value| {
        stdin.write_all(format!("{v}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    let read_reply = |stdout: &mut BufReader<std::process::ChildStdout>, id: i64| -> (Value, u64) {
        let mut bytes = 0u64;
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "{cmdline}: stdout ended before the reply to {id}");
            bytes += n as u64;
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["id"] == json!(id) && v.get("method").is_none() {
                    return (v, bytes);
                }
            }
        }
    };
    send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "slow-client", "version": "1"}}}));
    read_reply(&mut stdout, 0);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
    read_reply(&mut stdout, 1);
    let rss_before = status_kb(lpid, "VmRSS").expect("launcher VmRSS");

    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "flood",
        "arguments": {"chunks": FLOOD_CHUNKS, "chunk_bytes": FLOOD_CHUNK_BYTES}}}));
    // Wait until the server's progress stops moving for a second (it is blocked on a full pipe).
    let mut last = (progress(&fx), Instant::now());
    let give_up = Instant::now() + Duration::from_secs(60);
    while last.1.elapsed() < Duration::from_secs(1) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(100));
        let p = progress(&fx);
        if p != last.0 {
            last = (p, Instant::now());
        }
    }
    let stalled_at = last.0;
    let total = FLOOD_CHUNKS * FLOOD_CHUNK_BYTES;
    let rss_stalled = status_kb(lpid, "VmRSS").expect("launcher VmRSS");
    assert!(stalled_at > 0, "control: the server started writing (progress log {})", fx.log.display());
    assert!(
        stalled_at < 8 << 20,
        "{path:?}: with the client not reading, the server still wrote {stalled_at} of {total} bytes: \
         something buffers without bound"
    );
    assert!(
        rss_stalled < rss_before + 16 * 1024,
        "{path:?}: the launcher's RSS grew from {rss_before} kB to {rss_stalled} kB while the client was not reading"
    );

    // The client reads again: everything arrives, and the launcher's memory stays flat.
    let (reply, bytes) = read_reply(&mut stdout, 2);
    let hwm = status_kb(lpid, "VmHWM").expect("launcher VmHWM");
    assert!(bytes >= total, "control: the client received {bytes} bytes, fewer than the {total} flooded");
    let answered: Option<u64> = reply["result"]["content"][0]["text"].as_str().and_then(|t| t.parse().ok());
    assert!(answered.is_some_and(|n| n >= total), "the flood's answer: {reply}");
    assert!(
        hwm < rss_before + 32 * 1024,
        "{path:?}: the launcher's peak RSS reached {hwm} kB relaying {total} bytes (it was {rss_before} kB before)"
    );
    eprintln!(
        "{path:?}: server stalled at {stalled_at} of {total} bytes; launcher RSS {rss_before} kB before, \
         {rss_stalled} kB stalled, peak {hwm} kB after relaying everything"
    );
    drop(send);
    let status = wait_timeout(&mut child, CELL_TIMEOUT);
    assert!(status.is_some(), "the launcher did not exit after stdin EOF");
}

/// SIGKILLs a process when dropped (a failing test does not leave its launcher behind).
struct KillChild(u32);

impl Drop for KillChild {
    fn drop(&mut self) {
        if alive(self.0) {
            // SAFETY: kill takes plain integers and touches no memory.
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_client_that_stops_reading_stalls_the_server_not_the_launcher_zero_copy() {
    client_stops_reading(Path_::ZeroCopy);
}

#[test]
fn a_client_that_stops_reading_stalls_the_server_not_the_launcher_relay() {
    client_stops_reading(Path_::Relay);
}
