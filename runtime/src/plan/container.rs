//! The container backend's plan: the same cell as the jail's [`MountPlan`], expressed as what
//! a Docker-compatible engine can be asked for. Pure: unit tests pin it.
//!
//! The mapping, op by op:
//! - the root tmpfs and its final read-only remount → the image's root filesystem, read-only;
//! - binds (system trees, grants) → bind mounts at the same paths, read-only unless granted;
//! - `/etc` copies → read-only binds of the same host files;
//! - generated `/etc` files → read-only binds of files mcpcell writes to a private directory;
//! - `/tmp`, `$HOME` → size-limited tmpfs mounts; `/dev/shm` → the engine's shm size;
//! - `/dev`, `/proc` → the engine's own (minimal `/dev`, masked `/proc`);
//! - symlinks of the merged-`/usr` layout → present in the base image (`mcpcell image build`).

use super::mounts::{MountOp, MountPlan};
use super::Identity;
use std::path::{Path, PathBuf};

/// The uid/gid a container runs as when mcpcell itself runs as root: never root in the
/// container (the engine does not remap users by default, so root there is host root).
pub const CONTAINER_FALLBACK_ID: u32 = 65534;

/// Where the mcpcell binary is mounted in the container, to run as its init.
pub const CONTAINER_INIT_PATH: &str = "/.mcpcell/mcpcell";

/// The label every mcpcell container carries (value: boot id/pid/start time of its shim), for
/// reaping containers whose shim is gone.
pub const LABEL_LAUNCHER: &str = "io.mcpcell.launcher";
/// The label holding the pid of the launcher that started the container (for tests and
/// `docker ps --filter label=io.mcpcell.parent=PID`).
pub const LABEL_PARENT: &str = "io.mcpcell.parent";
/// The label naming the profile.
pub const LABEL_PROFILE: &str = "io.mcpcell.profile";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerBind {
    pub src: PathBuf,
    pub dest: PathBuf,
    pub writable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    /// Image reference (local; never pulled).
    pub image: String,
    /// `uid:gid` the init and the server run as.
    pub user: String,
    pub binds: Vec<ContainerBind>,
    /// Generated files (never secrets), bound read-only at these paths.
    pub files: Vec<(PathBuf, String)>,
    /// tmpfs mounts: destination and engine mount options.
    pub tmpfs: Vec<(PathBuf, String)>,
    pub shm_bytes: u64,
    pub memory_bytes: u64,
    pub pids: u64,
    /// Engine rlimits (soft = hard), the same the init sets again: an engine's defaults may be
    /// higher than a container without capabilities may set (Podman's nofile).
    pub ulimits: Vec<(String, u64)>,
    /// Top-level symlinks of the host's layout (e.g. `/lib64 -> usr/lib64`) the image must
    /// have for the bound system trees to work.
    pub required_symlinks: Vec<(PathBuf, PathBuf)>,
}

/// The tag of the base image this version of mcpcell uses: its rootfs only holds mount
/// points and the host's top-level symlinks; the runtime comes from the bound system trees.
pub fn base_image() -> String {
    crate::container::image::reference("base")
}

/// The identity the container runs as: the invoking user, or an unprivileged one for root.
pub fn container_identity(id: &Identity) -> Identity {
    if id.uid != 0 {
        return id.clone();
    }
    Identity { uid: CONTAINER_FALLBACK_ID, gid: CONTAINER_FALLBACK_ID, user: "nobody".into(), home: id.home.clone() }
}

pub(super) fn plan_container(mounts: &MountPlan, id: &Identity, limits: &mcpcell_profiles::Limits) -> ContainerPlan {
    let (memory_bytes, pids) = (limits.memory_bytes, limits.pids);
    let mut plan = ContainerPlan {
        image: base_image(),
        user: format!("{}:{}", id.uid, id.gid),
        binds: Vec::new(),
        files: Vec::new(),
        tmpfs: Vec::new(),
        shm_bytes: 0,
        memory_bytes,
        pids,
        ulimits: vec![("nofile".into(), limits.open_files), ("nproc".into(), limits.pids)],
        required_symlinks: Vec::new(),
    };
    let engine_owned = |p: &Path| p.starts_with("/dev") || p.starts_with("/proc");
    for op in &mounts.ops {
        match op {
            MountOp::Tmpfs { dest, size, .. } if dest == Path::new("/dev/shm") => plan.shm_bytes = *size,
            MountOp::Tmpfs { dest, .. } if dest == Path::new("/") || engine_owned(dest) => {}
            MountOp::Tmpfs { dest, size, mode } => {
                let mut opts = format!("size={size},mode={mode:o}");
                if dest == &id.home {
                    opts.push_str(&format!(",uid={},gid={}", id.uid, id.gid));
                }
                plan.tmpfs.push((dest.clone(), opts));
            }
            MountOp::Bind { dest, .. } if engine_owned(dest) => {}
            MountOp::Bind { src, dest, writable, .. } => {
                plan.binds.push(ContainerBind { src: src.clone(), dest: dest.clone(), writable: *writable })
            }
            MountOp::Copy { src, dest } => {
                plan.binds.push(ContainerBind { src: src.clone(), dest: dest.clone(), writable: false })
            }
            MountOp::File { dest, contents, .. } => plan.files.push((dest.clone(), contents.clone())),
            MountOp::Symlink { dest, .. } if engine_owned(dest) => {}
            MountOp::Symlink { target, dest } if dest.parent() == Some(Path::new("/")) => {
                plan.required_symlinks.push((dest.clone(), target.clone()))
            }
            // A symlink deeper down (/etc/localtime): bind what it points to, as the engine
            // follows the source of a bind.
            MountOp::Symlink { target, dest } => {
                let base = dest.parent().unwrap_or(Path::new("/"));
                let src = super::resolve::normalize(&base.join(target));
                plan.binds.push(ContainerBind { src, dest: dest.clone(), writable: false });
            }
            MountOp::Proc { .. } | MountOp::RemountReadOnly { .. } => {}
        }
    }
    plan
}
