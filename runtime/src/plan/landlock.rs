//! Landlock rules mirroring the mount plan: defence in depth should a mount step be weaker
//! than planned. Landlock grants are a union along the path, so a read-only grant nested in
//! a writable one is enforced by the read-only bind mount, not by Landlock.

use super::resolve::ResolvedHost;
use mcpcell_profiles::Profile;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LandlockPlan {
    /// Refuse to start if the host's ABI is lower. 0 = Landlock optional.
    pub min_abi: u8,
    /// Read files, list directories, execute.
    pub read_exec: Vec<PathBuf>,
    /// Every filesystem right beneath these paths.
    pub read_write: Vec<PathBuf>,
    /// Device files that may be opened for reading and writing (and truncated: `> /dev/null`).
    pub devices: Vec<PathBuf>,
    /// TCP ports the server may connect to / bind. Empty: none (ABI 4+).
    pub tcp_connect: Vec<u16>,
    pub tcp_bind: Vec<u16>,
    /// Deny signals to, and abstract unix sockets of, processes outside the cell (ABI 6+).
    pub scope_signals: bool,
    pub scope_abstract_unix: bool,
}

impl LandlockPlan {
    /// No filesystem access at all (beyond listing directories), no TCP, scoped: for netd.
    pub fn nothing(min_abi: u8) -> Self {
        LandlockPlan {
            min_abi,
            read_exec: Vec::new(),
            read_write: Vec::new(),
            devices: Vec::new(),
            tcp_connect: Vec::new(),
            tcp_bind: Vec::new(),
            scope_signals: true,
            scope_abstract_unix: true,
        }
    }
}

/// Where an image keeps its runtime.
const IMAGE_SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt"];

pub(super) fn plan_landlock(
    profile: &Profile,
    host: &ResolvedHost,
    egress: Option<&crate::egress::EgressAllowlist>,
) -> LandlockPlan {
    let mut read_exec: Vec<PathBuf> = host
        .system
        .iter()
        .filter(|e| !matches!(e.kind, super::EntryKind::Symlink(_)))
        .map(|e| e.path.clone())
        .collect();
    read_exec.extend(["/etc", "/proc", "/dev"].map(PathBuf::from));
    if profile.sandbox.image.is_some() {
        // The image's own system trees (the container's init skips those the image lacks).
        read_exec.extend(IMAGE_SYSTEM_DIRS.iter().map(PathBuf::from));
    }
    let mut read_write = vec![PathBuf::from("/tmp"), host.identity.home.clone(), "/dev/shm".into()];
    // Secret files: read only (the bind is read-only too).
    if let Some(files) = host.secrets.files_plan() {
        read_exec.push(files.cell_dir.clone());
    }
    for grant in &host.grants {
        if grant.writable {
            read_write.push(grant.path.clone());
        } else {
            read_exec.push(grant.path.clone());
        }
    }
    LandlockPlan {
        min_abi: profile.sandbox.landlock_min_abi,
        read_exec,
        read_write,
        devices: host.devices.clone(),
        // The server may only dial the in-cell forwarder's ports (only loopback exists).
        tcp_connect: egress
            .map(|allow| {
                let mut ports = allow.ports();
                ports.push(crate::egress::HTTP_PROXY_PORT);
                ports
            })
            .unwrap_or_default(),
        tcp_bind: Vec::new(),
        scope_signals: true,
        scope_abstract_unix: true,
    }
}

/// Kept next to the plan so a reader sees the mirror: every bind is covered by a rule.
#[cfg(test)]
pub(super) fn covers_all_binds(plan: &LandlockPlan, mounts: &[super::MountOp]) -> bool {
    mounts.iter().all(|op| match op {
        super::MountOp::Bind { dest, writable, .. } => {
            let rules = if *writable { &plan.read_write } else { &plan.read_exec };
            rules.iter().chain(plan.devices.iter()).any(|r| dest.starts_with(r))
                || plan.read_write.iter().any(|r| dest.starts_with(r))
        }
        _ => true,
    })
}
