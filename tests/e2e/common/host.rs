//! Counting what cells leave on the host: processes, mounts, cgroups, temp files; and reading a
//! launcher's own footprint (open fds, resident memory). Shared by the fault and soak tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (pid, parent pid, command line) of every host process.
fn process_table() -> Vec<(u32, u32, String)> {
    let mut v = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return v };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split at the last ')'.
        let Some(after) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let mut f = after.split_whitespace();
        let state = f.next().unwrap_or("");
        if state == "Z" || state == "X" {
            continue;
        }
        let ppid = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim_end().to_string())
            .unwrap_or_default();
        v.push((pid, ppid, cmd));
    }
    v
}

/// Live (non-zombie) descendants of `root`, with their command lines.
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let table = process_table();
    let mut children: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    for (pid, ppid, cmd) in table {
        children.entry(ppid).or_default().push((pid, cmd));
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for (c, cmd) in children.get(&p).cloned().unwrap_or_default() {
            stack.push(c);
            out.push((c, cmd));
        }
    }
    out
}

/// The launcher's descendant running the server: the one whose command line contains `needle`
/// and that is not a fork of the launcher itself (the cell's init shares the launcher's argv).
pub fn server_pid(launcher: u32, needle: &str) -> Option<u32> {
    descendants(launcher)
        .into_iter()
        .filter(|(pid, cmd)| cmd.contains(needle) && comm(*pid).as_deref() != Some("mcpcell"))
        .map(|(pid, _)| pid)
        .next_back()
}

pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

/// A `/proc/PID/status` field in kB (VmRSS, VmHWM, ...).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(|d| d.count())
}

/// Lines of this process's mountinfo (the host mount namespace) that mention `needle`.
pub fn mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Cgroup directories `mcpcell-<pid>` (the cell cgroup of launcher `pid`) anywhere in the
/// host's cgroup hierarchies, for the given launcher pids.
pub fn cell_cgroups(launchers: &BTreeSet<u32>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk_cgroups(Path::new("/sys/fs/cgroup"), 0, &mut |dir| {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(pid) = name.strip_prefix("mcpcell-").and_then(|p| p.parse::<u32>().ok()) {
            if launchers.contains(&pid) {
                found.push(dir.to_path_buf());
            }
        }
    });
    found
}

fn walk_cgroups(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = e.path();
            f(&p);
            walk_cgroups(&p, depth + 1, f);
        }
    }
}

/// Processes in a cgroup directory.
pub fn cgroup_procs(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Scratch directories of the test suites themselves (these e2e tests, the profiles crate's unit
/// tests), which may come and go while a soak runs: not mcpcell's.
const TEST_SCRATCH: &[&str] = &["mcpcell-e2e-", "mcpcell-profiles-"];

/// Entries of the host's /tmp that look like mcpcell's own (test scratch excluded): mcpcell
/// creates none, so any new one is a leak.
pub fn tmp_entries() -> BTreeSet<String> {
    std::fs::read_dir("/tmp")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("mcpcell") && !TEST_SCRATCH.iter().any(|p| n.starts_with(p)))
                .collect()
        })
        .unwrap_or_default()
}

/// The mcpcell-looking /tmp entries in `after` that were not in `before`.
pub fn new_tmp_entries(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    after.difference(before).cloned().collect()
}

/// What the host holds of cells, for a before/after comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// Processes whose command line mentions the marker.
    pub procs: Vec<(u32, String)>,
    /// Host mounts mentioning the marker (cells mount in their own namespaces only).
    pub mounts: Vec<String>,
    /// mcpcell-looking entries in /tmp.
    pub tmp: BTreeSet<String>,
}

impl Footprint {
    pub fn take(marker: &str) -> Footprint {
        Footprint { procs: super::procs_with(marker), mounts: mounts_mentioning(marker), tmp: tmp_entries() }
    }
}
