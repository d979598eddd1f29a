//! Cgroup limits for the cell (memory, pids), on cgroup v2 or the v1 `pids`/`memory`
//! hierarchies, whichever this host lets us write. The cell's cgroup is a child of the
//! launcher's own, named `mcpcell-<launcher pid>`, removed when the cell ends; leftovers of a
//! SIGKILLed launcher are removed at the next start.

use std::path::{Path, PathBuf};

/// Where this process's cgroups live, per controller we use.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CgroupHost {
    /// cgroup v2 directory of this process, if the unified hierarchy is mounted.
    pub v2: Option<PathBuf>,
    /// v1 `pids` hierarchy directory of this process.
    pub v1_pids: Option<PathBuf>,
    /// v1 `memory` hierarchy directory of this process.
    pub v1_memory: Option<PathBuf>,
}

impl CgroupHost {
    pub fn detect() -> Self {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut host = CgroupHost::default();
        for line in mountinfo.lines() {
            // id parent maj:min root mountpoint opts... - fstype source superopts
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let fields: Vec<&str> = left.split(' ').collect();
            let rfields: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(mountpoint), Some(fstype)) = (fields.get(3), fields.get(4), rfields.first()) else {
                continue;
            };
            let superopts = rfields.get(2).copied().unwrap_or("");
            let own = |controller: &str| own_path(&membership, controller).and_then(|p| relative_to(&p, root));
            match *fstype {
                "cgroup2" => host.v2 = own("").map(|p| Path::new(mountpoint).join(p)),
                "cgroup" if superopts.split(',').any(|o| o == "pids") => {
                    host.v1_pids = own("pids").map(|p| Path::new(mountpoint).join(p))
                }
                "cgroup" if superopts.split(',').any(|o| o == "memory") => {
                    host.v1_memory = own("memory").map(|p| Path::new(mountpoint).join(p))
                }
                _ => {}
            }
        }
        host
    }

    /// The files we would write, if present and writable: (pids.max, memory limit file).
    pub fn writable_limits(&self) -> (Option<PathBuf>, Option<PathBuf>) {
        let v2_ctl = self.v2.as_ref().filter(|d| writable(d)).map(|d| {
            let controllers = std::fs::read_to_string(d.join("cgroup.controllers")).unwrap_or_default();
            (d.clone(), controllers)
        });
        let pids = match &v2_ctl {
            Some((d, ctl)) if ctl.split_whitespace().any(|c| c == "pids") => Some(d.clone()),
            _ => self.v1_pids.clone().filter(|d| writable(d)),
        };
        let memory = match &v2_ctl {
            Some((d, ctl)) if ctl.split_whitespace().any(|c| c == "memory") => Some(d.clone()),
            _ => self.v1_memory.clone().filter(|d| writable(d)),
        };
        (pids, memory)
    }
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// The path of this process in `controller`'s hierarchy ("" = v2).
fn own_path(membership: &str, controller: &str) -> Option<String> {
    membership.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, ctls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() { ctls.is_empty() } else { ctls.split(',').any(|c| c == controller) };
        matches.then(|| path.to_string())
    })
}

fn relative_to(path: &str, mount_root: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(mount_root).ok()?;
    Some(rel.to_path_buf())
}

/// The cell's cgroups; removed on drop.
#[derive(Debug)]
pub struct CellCgroup {
    dirs: Vec<PathBuf>,
}

impl CellCgroup {
    /// Create the cell's cgroups with the limits. Returns the cgroup and which limits it
    /// enforces: (pids, memory).
    pub fn create(host: &CgroupHost, pids: u64, memory: u64) -> Result<(Self, bool, bool), String> {
        let name = format!("mcpcell-{}", std::process::id());
        let (pids_parent, mem_parent) = host.writable_limits();
        let mut cg = CellCgroup { dirs: Vec::new() };
        let v2 = host.v2.as_ref();
        let mut enforce = |parent: &Path, file: &str, value: String| -> Result<(), String> {
            reap_stale(parent);
            let dir = parent.join(&name);
            if !cg.dirs.contains(&dir) {
                std::fs::create_dir(&dir).map_err(|e| format!("creating cgroup {}: {e}", dir.display()))?;
                cg.dirs.push(dir.clone());
            }
            std::fs::write(dir.join(file), value).map_err(|e| format!("writing {}/{file}: {e}", dir.display()))
        };
        let mut has_pids = false;
        let mut has_mem = false;
        if let Some(parent) = &pids_parent {
            enforce(parent, "pids.max", pids.to_string())?;
            has_pids = true;
        }
        if let Some(parent) = &mem_parent {
            let file = if Some(parent) == v2 { "memory.max" } else { "memory.limit_in_bytes" };
            enforce(parent, file, memory.to_string())?;
            if Some(parent) == v2 {
                // Keep the cell's memory in RAM: no swap as a way around the limit.
                let _ = std::fs::write(parent.join(&name).join("memory.swap.max"), "0");
            }
            has_mem = true;
        }
        Ok((cg, has_pids, has_mem))
    }

    /// Move `pid` (the cell's init, before it forks the server) into every cell cgroup.
    pub fn add(&self, pid: i32) -> Result<(), String> {
        for dir in &self.dirs {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string())
                .map_err(|e| format!("joining cgroup {}: {e}", dir.display()))?;
        }
        Ok(())
    }
}

impl Drop for CellCgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // The cell's processes are gone when we get here; a few retries cover the kernel
            // finishing their teardown.
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// Remove `mcpcell-<pid>` cgroups whose launcher no longer exists (SIGKILLed launchers).
fn reap_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("mcpcell-")).and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}
