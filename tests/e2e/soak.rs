//! Soak: many cells running a real MCP server (@modelcontextprotocol/server-memory, the
//! cheapest real server to start), each driven through `mcpcell run` (initialize,
//! notifications/initialized, tools/list, then stdin EOF), half on the zero-copy path and half
//! through the MCP-aware relay. Before and after, the host's leftovers are counted: cell
//! processes, host mounts, cell cgroups, mcpcell temp files; and each
//! launcher's own footprint (open fds, resident memory) is sampled mid-session — no growth
//! allowed. One long relay session checks that a single launcher does not grow either.
//!
//! Sizes: MCPCELL_SOAK_SEQUENTIAL (default 500) and MCPCELL_SOAK_CONCURRENT (default 25).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::host::*;
use common::live::*;
use common::*;
use serde_json::json;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Profiles {
    sc: Scratch,
    zero_copy: PathBuf,
    relay: PathBuf,
}

fn profiles(tag: &str) -> Profiles {
    let sc = Scratch::new(tag);
    let server = "[server]\ncommand = \"mcp-server-memory\"\nenv = { MEMORY_FILE_PATH = \"/tmp/memory.jsonl\" }\n";
    let zero_copy = sc.file("zero-copy.toml", &profile_text(server, ""));
    let relay = sc.file("relay.toml", &profile_text(&format!("{server}\n[tools]\non_poisoned = \"warn\"\n"), ""));
    Profiles { sc, zero_copy, relay }
}

/// What one session left to look at.
struct Sample {
    launcher: u32,
    /// The launcher's descendants mid-session (the cell's init and the server).
    cell: Vec<(u32, String)>,
    fds: usize,
    rss_kb: u64,
}

/// Starts a session and does the handshake; the caller finishes it.
fn open(profile: &Path) -> (Live, Sample) {
    let mut live = Live::start(mcpcell_cmd(&["run", s(profile)]));
    let tools = live.handshake("soak-test", json!({}));
    assert!(tools.iter().any(|t| t == "read_graph"), "server-memory lists its tools: {tools:?}{}", live.describe());
    let launcher = live.child.id();
    let cell = descendants(launcher);
    assert!(
        cell.iter().any(|(_, c)| c.contains("mcp-server-memory")),
        "control: the server runs under the launcher: {cell:?}"
    );
    let fds = fd_count(launcher).expect("launcher fds");
    let rss_kb = status_kb(launcher, "VmRSS").expect("launcher VmRSS");
    (live, Sample { launcher, cell, fds, rss_kb })
}

fn close(live: Live) {
    live.finish();
}

/// The host before the soak.
struct Before {
    fp: Footprint,
    mcpcell_mounts: Vec<String>,
}

fn before(marker: &str) -> Before {
    Before { fp: Footprint::take(marker), mcpcell_mounts: mounts_mentioning("mcpcell") }
}

/// Nothing of `samples` is left, and the host is as it was.
fn assert_no_growth(what: &str, marker: &str, b: &Before, samples: &[(bool, Sample)]) {
    let launchers: BTreeSet<u32> = samples.iter().map(|(_, s)| s.launcher).collect();
    // Every process of every cell is gone (same pid *and* command line: pids get reused).
    let survivors = |samples: &[(bool, Sample)]| -> Vec<(u32, String)> {
        let now: Vec<(u32, String)> =
            samples.iter().flat_map(|(_, s)| s.cell.iter().cloned()).filter(|(p, _)| alive(*p)).collect();
        now.into_iter()
            .filter(|(p, cmd)| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim_end() == cmd)
                    .unwrap_or(false)
            })
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || survivors(samples).is_empty()),
        "{what}: cell processes survive: {:?}",
        survivors(samples)
    );
    let after = Footprint::take(marker);
    assert!(after.procs.is_empty(), "{what}: processes mentioning the profiles survive: {:?}", after.procs);
    assert_eq!(after.mounts, b.fp.mounts, "{what}: host mounts changed");
    assert_eq!(mounts_mentioning("mcpcell"), b.mcpcell_mounts, "{what}: host mounts mentioning mcpcell changed");
    let new_tmp = new_tmp_entries(&b.fp.tmp, &after.tmp);
    assert!(new_tmp.is_empty(), "{what}: temp files appeared in /tmp: {new_tmp:?}");
    let cgroups = cell_cgroups(&launchers);
    assert!(cgroups.is_empty(), "{what}: cell cgroups left behind: {cgroups:?}");

    // Each launcher's footprint: the same open fds every time, and no drift in memory between
    // the first and the last sessions of each kind.
    for relay in [false, true] {
        let kind: Vec<&Sample> = samples.iter().filter(|(r, _)| *r == relay).map(|(_, s)| s).collect();
        if kind.is_empty() {
            continue;
        }
        let fds: BTreeSet<usize> = kind.iter().map(|s| s.fds).collect();
        assert_eq!(fds.len(), 1, "{what} (relay: {relay}): launcher fd counts vary between sessions: {fds:?}");
        let tenth = (kind.len() / 10).max(1);
        let median = |xs: &[&Sample]| {
            let mut v: Vec<u64> = xs.iter().map(|s| s.rss_kb).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        let (first, last) = (median(&kind[..tenth]), median(&kind[kind.len() - tenth..]));
        eprintln!(
            "{what} (relay: {relay}): {} sessions; launcher fds {fds:?}; launcher RSS median {first} kB (first \
             tenth) → {last} kB (last tenth)",
            kind.len()
        );
        assert!(last <= first + 1024, "{what} (relay: {relay}): launcher RSS drifted from {first} kB to {last} kB");
    }
}

#[test]
fn sequential_cells_leave_nothing_behind() {
    let n = count("MCPCELL_SOAK_SEQUENTIAL", 500);
    let p = profiles("soak-seq");
    let marker = p.sc.path.file_name().unwrap().to_string_lossy().into_owned();
    let _cleanup = KillOnDrop(marker.clone());
    let b = before(&marker);
    let started = Instant::now();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let relay = i % 2 == 1;
        let (live, sample) = open(if relay { &p.relay } else { &p.zero_copy });
        close(live);
        samples.push((relay, sample));
    }
    eprintln!("{n} sequential sessions in {:?}", started.elapsed());
    assert_no_growth("sequential", &marker, &b, &samples);
}

#[test]
fn concurrent_cells_leave_nothing_behind() {
    let n = count("MCPCELL_SOAK_CONCURRENT", 25);
    let p = Arc::new(profiles("soak-conc"));
    let marker = p.sc.path.file_name().unwrap().to_string_lossy().into_owned();
    let _cleanup = KillOnDrop(marker.clone());
    let b = before(&marker);
    let started = Instant::now();
    // All sessions are open at once (the barrier), then all finish.
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (p, barrier) = (p.clone(), barrier.clone());
            std::thread::spawn(move || {
                let relay = i % 2 == 1;
                let (live, sample) = open(if relay { &p.relay } else { &p.zero_copy });
                barrier.wait();
                close(live);
                (relay, sample)
            })
        })
        .collect();
    let samples: Vec<(bool, Sample)> = handles.into_iter().map(|h| h.join().expect("session thread")).collect();
    eprintln!("{n} concurrent sessions in {:?}", started.elapsed());
    assert_no_growth("concurrent", &marker, &b, &samples);
}

/// One relay session, many requests: the launcher's fds stay the same and its memory flat.
#[test]
fn a_long_relay_session_does_not_grow_the_launcher() {
    let p = profiles("soak-long");
    let (mut live, first) = open(&p.relay);
    let mut id = 10;
    let mut round = |live: &mut Live, n: usize| {
        for _ in 0..n {
            let r = live.call(id, "read_graph", json!({}));
            assert!(r.get("result").is_some(), "read_graph answers: {r}");
            id += 1;
            let r = live.request(id, "tools/list", json!({}));
            assert!(r["result"]["tools"].is_array(), "tools/list answers: {r}");
            id += 1;
            live.seen.clear();
        }
    };
    round(&mut live, 100);
    let (fds_warm, rss_warm) = (fd_count(first.launcher).unwrap(), status_kb(first.launcher, "VmRSS").unwrap());
    round(&mut live, 900);
    let (fds_end, rss_end) = (fd_count(first.launcher).unwrap(), status_kb(first.launcher, "VmRSS").unwrap());
    eprintln!("long session: launcher fds {fds_warm} → {fds_end}, RSS {rss_warm} kB → {rss_end} kB over 1800 requests");
    assert_eq!(fds_end, fds_warm, "the launcher's open fds changed during the session");
    assert!(rss_end <= rss_warm + 1024, "the launcher's RSS grew from {rss_warm} kB to {rss_end} kB");
    close(live);
}
