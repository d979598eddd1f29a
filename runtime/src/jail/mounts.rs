//! Applying a [`MountPlan`] inside the cell's fresh mount namespace.
//!
//! bubblewrap's layout trick: a scratch tmpfs becomes the root first, with the host root
//! parked under `/oldroot` (so every bind source, including host `/tmp`, is still reachable);
//! the new root is assembled under `/newroot`; a final pivot detaches both the scratch tmpfs
//! and the host root, so nothing of the host stays reachable except what was bound.

use crate::pathfd::{self, FileId};
use crate::plan::{MountOp, MountPlan};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, pivot_root};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SCRATCH: &str = "/tmp";
const NEWROOT: &str = "/newroot";
const OLDROOT: &str = "/oldroot";

type StepResult = Result<(), String>;

fn at(root: &str, path: &Path) -> PathBuf {
    Path::new(root).join(path.strip_prefix("/").unwrap_or(path))
}

fn os(what: String) -> impl FnOnce(nix::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// Build the whole filesystem view and pivot into it.
pub fn apply(plan: &MountPlan) -> StepResult {
    // Nothing we do here may propagate back to the host.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(os("making / private".into()))?;
    mount(Some("tmpfs"), SCRATCH, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("size=64k,mode=0700"))
        .map_err(os("mounting the scratch tmpfs".into()))?;
    chdir(SCRATCH).map_err(os("chdir scratch".into()))?;
    for dir in ["newroot", "oldroot"] {
        std::fs::create_dir(dir).map_err(|e| format!("creating scratch/{dir}: {e}"))?;
    }
    pivot_root(".", "oldroot").map_err(os("pivot_root to the scratch tmpfs".into()))?;
    chdir("/").map_err(os("chdir /".into()))?;

    for op in &plan.ops {
        apply_op(op)?;
    }

    // Enter the new root; the scratch tmpfs and the host root underneath go away together.
    chdir(NEWROOT).map_err(os("chdir newroot".into()))?;
    pivot_root(".", ".").map_err(os("pivot_root into the cell root".into()))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(os("detaching the host root".into()))?;
    chdir("/").map_err(os("chdir / in the cell".into()))?;
    Ok(())
}

fn apply_op(op: &MountOp) -> StepResult {
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match op {
        MountOp::Tmpfs { dest, size, mode } => {
            let target = at(NEWROOT, dest);
            mkdir_all(&target)?;
            let data = format!("size={size},mode={mode:o}");
            mount(Some("tmpfs"), &target, Some("tmpfs"), nosuid_nodev, Some(data.as_str()))
                .map_err(os(format!("tmpfs on {}", dest.display())))
        }
        MountOp::Bind { src, dest, is_dir, writable, id } => {
            // Device nodes keep `dev`; everything else is nodev. Applied recursively so a
            // submount under a read-only grant is read-only too.
            let mut attrs = libc::MOUNT_ATTR_NOSUID;
            if !dest.starts_with("/dev") {
                attrs |= libc::MOUNT_ATTR_NODEV;
            }
            if !writable {
                attrs |= libc::MOUNT_ATTR_RDONLY;
            }
            bind(&at(OLDROOT, src), &at(NEWROOT, dest), *is_dir, *id, attrs).map_err(|e| {
                format!(
                    "binding {} at {} ({}): {e}",
                    src.display(),
                    dest.display(),
                    if *writable { "rw" } else { "ro" }
                )
            })
        }
        MountOp::Symlink { target, dest } => {
            let link = at(NEWROOT, dest);
            if let Some(parent) = link.parent() {
                mkdir_all(parent)?;
            }
            std::os::unix::fs::symlink(target, &link)
                .map_err(|e| format!("symlink {} -> {}: {e}", dest.display(), target.display()))
        }
        MountOp::File { dest, contents, mode } => {
            let path = at(NEWROOT, dest);
            if let Some(parent) = path.parent() {
                mkdir_all(parent)?;
            }
            std::fs::write(&path, contents)
                .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)))
                .map_err(|e| format!("writing {}: {e}", dest.display()))
        }
        MountOp::Copy { src, dest } => {
            let path = at(NEWROOT, dest);
            if let Some(parent) = path.parent() {
                mkdir_all(parent)?;
            }
            std::fs::copy(at(OLDROOT, src), &path).map(drop).map_err(|e| format!("copying {}: {e}", src.display()))
        }
        MountOp::Proc { dest } => {
            let target = at(NEWROOT, dest);
            mkdir_all(&target)?;
            let flags = nosuid_nodev | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY;
            mount(Some("proc"), &target, Some("proc"), flags, None::<&str>)
                .map_err(os(format!("procfs on {}", dest.display())))
        }
        MountOp::RemountReadOnly { dest } => {
            let target = at(NEWROOT, dest);
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | nosuid_nodev;
            mount(None::<&str>, &target, None::<&str>, flags, None::<&str>)
                .map_err(os(format!("remounting {} read-only", dest.display())))
        }
    }
}

fn mkdir_all(path: &Path) -> StepResult {
    std::fs::create_dir_all(path).map_err(|e| format!("creating mount point {}: {e}", path.display()))
}

fn ensure_file(path: &Path) -> StepResult {
    if let Some(parent) = path.parent() {
        mkdir_all(parent)?;
    }
    if std::fs::symlink_metadata(path).is_err() {
        std::fs::File::create(path).map_err(|e| format!("creating mount point {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Bind `source` at `target` by file, not by name: the source is opened without following any
/// symlink (and, with `id`, must be the file the launcher resolved), cloned as a detached mount
/// tree, restricted with `attrs` while still detached, and moved onto the target, itself
/// opened without following symlinks. A rename or symlink racing the start (between the
/// launcher's resolution and this mount) makes it fail, never mount something else.
fn bind(source: &Path, target: &Path, is_dir: bool, id: Option<FileId>, attrs: u64) -> Result<(), String> {
    let src = pathfd::open_no_symlinks(source).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
            format!("the path changed since it was resolved (a symlink or a rename raced the start): {e}")
        }
        _ => format!("opening the source: {e}"),
    })?;
    let (found, found_dir) = pathfd::identify(&src).map_err(|e| format!("fstat of the source: {e}"))?;
    if id.is_some_and(|want| want != found) || found_dir != is_dir {
        return Err("the path now names another file than the one resolved (it was renamed or replaced during \
                    the start); refusing"
            .into());
    }
    // SAFETY: `src` is an open fd; the empty path is a valid C string; the kernel returns a new
    // fd (a detached copy of the mount tree at `src`) that we own.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            src.as_raw_fd(),
            c"".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32 | libc::AT_RECURSIVE as u32,
        )
    };
    if tree < 0 {
        return Err(format!("open_tree: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: open_tree returned a fresh fd that nothing else owns.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    set_attrs(&tree, attrs).map_err(|e| format!("mount_setattr: {e}"))?;
    if is_dir {
        mkdir_all(target)?;
    } else {
        ensure_file(target)?;
    }
    let dest = pathfd::open_no_symlinks(target).map_err(|e| format!("opening the mount point: {e}"))?;
    // SAFETY: both fds are open and owned by us; the empty paths are valid C strings.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            dest.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(format!("move_mount: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// mount_setattr(2) with AT_RECURSIVE on a (detached) mount tree: flags for all of it at once.
fn set_attrs(tree: &OwnedFd, attr_set: u64) -> Result<(), std::io::Error> {
    let attr = libc::mount_attr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: `tree` is an open fd, the empty path a valid C string and `attr` a properly
    // initialised struct whose size we pass; the kernel only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
