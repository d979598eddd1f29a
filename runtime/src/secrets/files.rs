//! File delivery: a private directory on a host tmpfs (never on disk), owned by the launcher,
//! bind-mounted read-only into the cell at [`CELL_SECRETS_DIR`]. Another backend (a container
//! engine) can bind the same host directory. Files are replaced atomically (write a temporary
//! file, then rename over the old one), so a reader sees the old value or the new one, never a
//! partial one. The directory is removed when the launcher exits (a launcher killed with
//! SIGKILL leaves it on the tmpfs, mode 0700, until reboot; the values in it expire anyway).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the secrets directory appears inside the cell.
pub const CELL_SECRETS_DIR: &str = "/run/mcpcell/secrets";

/// The plan's view of file delivery: pure data, the same for every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFilesPlan {
    /// The launcher's private tmpfs directory (mode 0700) holding the files.
    pub host_dir: PathBuf,
    /// Where `host_dir` is bound, read-only, in the cell.
    pub cell_dir: PathBuf,
    pub files: Vec<SecretFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// The `[secrets.NAME]` key.
    pub secret: String,
    /// File name in the directory (the secret's name).
    pub file_name: String,
    /// The environment variable that holds the file's path in the cell.
    pub env: String,
}

impl SecretFilesPlan {
    pub fn cell_path(&self, file: &SecretFile) -> PathBuf {
        self.cell_dir.join(&file.file_name)
    }
}

/// The host directory; removed (with its files) on drop.
#[derive(Debug)]
pub struct SecretDir {
    path: PathBuf,
    /// Who the directory and its files belong to when that is not the launcher (a container's
    /// user); None: the launcher's own uid, which is also the jail's.
    owner: std::sync::Mutex<Option<(u32, u32)>>,
}

impl SecretDir {
    /// A fresh 0700 directory on a memory filesystem: `$XDG_RUNTIME_DIR` when it is one, else
    /// `/dev/shm`. Refuses when neither is a tmpfs: secrets are never written to disk.
    pub fn create(runtime_dir: Option<&Path>) -> Result<Self, String> {
        let candidates: Vec<PathBuf> =
            runtime_dir.into_iter().map(Path::to_path_buf).chain([PathBuf::from("/dev/shm")]).collect();
        Self::create_in(&candidates)
    }

    fn create_in(candidates: &[PathBuf]) -> Result<Self, String> {
        for base in candidates {
            if !is_memory_fs(base) {
                continue;
            }
            static SEQ: AtomicU64 = AtomicU64::new(0);
            for _ in 0..16 {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let name = format!(
                    "mcpcell-secrets-{}-{:x}{:x}",
                    std::process::id(),
                    nanos,
                    SEQ.fetch_add(1, Ordering::Relaxed)
                );
                let path = base.join(name);
                // mkdir never follows a symlink, and fails on a name someone else took first.
                match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                    Ok(()) => return Ok(SecretDir { path, owner: std::sync::Mutex::new(None) }),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(format!("creating the secrets directory {}: {e}", path.display())),
                }
            }
        }
        let shown: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        Err(format!(
            "file delivery needs a tmpfs for the secret files (secrets are never written to disk), and none of {} is one; \
             mount a tmpfs on /dev/shm or set XDG_RUNTIME_DIR to a tmpfs directory",
            shown.join(", ")
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hand the directory and every file in it (and every file written later) to uid:gid, so
    /// that a server running as that user can read them; the modes stay 0700 and 0400.
    pub fn give_to(&self, uid: u32, gid: u32) -> Result<(), String> {
        let chown = |p: &Path| {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .map_err(|e| format!("giving {} to uid {uid}: {e}", p.display()))
        };
        chown(&self.path)?;
        let entries = std::fs::read_dir(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        for entry in entries.flatten() {
            chown(&entry.path())?;
        }
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = Some((uid, gid));
        Ok(())
    }

    /// Replace `file_name` atomically with `contents` (mode 0400: the server only reads it).
    pub fn write(&self, file_name: &str, contents: &[u8]) -> Result<(), String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = self.path.join(format!(".{file_name}.tmp{}", SEQ.fetch_add(1, Ordering::Relaxed)));
        let target = self.path.join(file_name);
        let result = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&tmp)
            .and_then(|mut f| f.write_all(contents))
            .and_then(|()| match *self.owner.lock().unwrap_or_else(|e| e.into_inner()) {
                Some((uid, gid)) => std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)),
                None => Ok(()),
            })
            .and_then(|()| std::fs::rename(&tmp, &target));
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("writing the secret file {}: {e}", target.display())
        })
    }
}

impl Drop for SecretDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(dir = %self.path.display(), error = %e, "could not remove the secrets directory");
        }
    }
}

fn is_memory_fs(path: &Path) -> bool {
    use nix::sys::statfs::{FsType, TMPFS_MAGIC};
    // ramfs: also memory only (nix names no constant for it).
    const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);
    nix::sys::statfs::statfs(path).is_ok_and(|s| [TMPFS_MAGIC, RAMFS_MAGIC].contains(&s.filesystem_type()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_directory_is_private_on_tmpfs_and_removed_on_drop() {
        let dir = SecretDir::create(None).expect("/dev/shm is a tmpfs here");
        let path = dir.path().to_path_buf();
        assert!(is_memory_fs(&path));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        dir.write("T", b"one").unwrap();
        dir.write("T", b"two").unwrap();
        assert_eq!(std::fs::read(path.join("T")).unwrap(), b"two");
        assert_eq!(std::fs::metadata(path.join("T")).unwrap().permissions().mode() & 0o777, 0o400);
        let names: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["T"], "no temporary file is left behind");
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn a_disk_directory_is_refused() {
        // The crate's own directory is on disk (or an overlay), never a tmpfs.
        let disk = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let err = SecretDir::create_in(std::slice::from_ref(&disk)).expect_err("a disk directory must be refused");
        assert!(err.contains("never written to disk"), "{err}");
        // Positive control: the same call with a tmpfs succeeds.
        assert!(SecretDir::create_in(&[disk, PathBuf::from("/dev/shm")]).is_ok());
    }
}
