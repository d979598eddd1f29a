//! The effects of `mcpcell wrap --write`: secret files (0600 in a 0700 directory), profiles, a
//! backup of the config, and the config replaced atomically.

use crate::{secret_file_text, FileState, Plan, WrapError};
use std::fs::{self, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Where the original config was copied; `None` when the config did not change.
    pub backup: Option<PathBuf>,
    /// Files written (secrets, profiles, the config), in order.
    pub written: Vec<PathBuf>,
    /// Files that already had exactly the planned content.
    pub unchanged: Vec<PathBuf>,
}

impl Applied {
    pub fn render(&self, plan: &Plan) -> String {
        let mut out = String::new();
        if self.written.is_empty() && self.backup.is_none() {
            out.push_str("Nothing to change: every file already matches.\n");
            return out;
        }
        for p in &self.written {
            out.push_str(&format!("wrote     {}\n", p.display()));
        }
        for p in &self.unchanged {
            out.push_str(&format!("unchanged {}\n", p.display()));
        }
        if let Some(b) = &self.backup {
            out.push_str(&format!("backup    {} (the config as it was)\n", b.display()));
            if !plan.secrets.is_empty() {
                out.push_str(
                    "The backup still holds the moved secrets (mode 0600): delete it once the new config works.\n",
                );
            }
        }
        out.push_str("Restart the MCP client to use the new config.\n");
        out
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> WrapError + '_ {
    move |source| WrapError::Write { path: path.to_path_buf(), source }
}

/// Writes what `plan` planned. Refuses, before writing anything, when a profile or secret file
/// exists with other content (unless `force`) or the config changed since it was read.
pub fn apply(plan: &Plan, force: bool) -> Result<Applied, WrapError> {
    let mut applied = Applied::default();
    if !plan.has_changes() {
        return Ok(applied);
    }
    let current =
        fs::read_to_string(&plan.config).map_err(|source| WrapError::Read { path: plan.config.clone(), source })?;
    if current != plan.original {
        return Err(WrapError::Changed { path: plan.config.clone() });
    }
    let states = plan.file_states();
    let conflicts: Vec<PathBuf> =
        states.iter().filter(|(_, s)| *s == FileState::Differs).map(|(p, _)| p.clone()).collect();
    if !conflicts.is_empty() && !force {
        return Err(WrapError::Conflicts { list: conflicts });
    }
    let same = |path: &Path| states.iter().any(|(p, s)| p == path && *s == FileState::Same);

    for secret in &plan.secrets {
        if same(&secret.path) {
            applied.unchanged.push(secret.path.clone());
            continue;
        }
        if let Some(dir) = secret.path.parent() {
            private_dir(dir)?;
        }
        write_atomic(&secret.path, secret_file_text(&secret.value).as_bytes(), 0o600)?;
        applied.written.push(secret.path.clone());
    }
    for profile in &plan.profiles {
        if same(&profile.path) {
            applied.unchanged.push(profile.path.clone());
            continue;
        }
        if let Some(dir) = profile.path.parent() {
            fs::create_dir_all(dir).map_err(write_err(dir))?;
        }
        write_atomic(&profile.path, profile.text.as_bytes(), 0o644)?;
        applied.written.push(profile.path.clone());
    }
    if plan.rewritten != plan.original {
        // A symlinked config (dotfile managers) stays a symlink: write where it points.
        let target =
            fs::canonicalize(&plan.config).map_err(|source| WrapError::Read { path: plan.config.clone(), source })?;
        let mode = fs::metadata(&target).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
        let backup_mode = if plan.secrets.is_empty() { mode } else { mode & 0o600 };
        let backup = backup_path(&target, &plan.original)?;
        if !backup.exists() {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(backup_mode)
                .open(&backup)
                .map_err(write_err(&backup))?;
            f.write_all(plan.original.as_bytes()).and_then(|()| f.sync_all()).map_err(write_err(&backup))?;
        }
        write_atomic(&target, plan.rewritten.as_bytes(), mode)?;
        applied.backup = Some(backup);
        applied.written.push(plan.config.clone());
    }
    Ok(applied)
}

/// `CONFIG.mcpcell-backup`, else `.1`, `.2`, …: the first that does not exist or already holds
/// exactly `original`. An existing, different backup is never overwritten.
fn backup_path(config: &Path, original: &str) -> Result<PathBuf, WrapError> {
    let base = format!("{}.mcpcell-backup", config.display());
    for n in 0..1000 {
        let path = PathBuf::from(if n == 0 { base.clone() } else { format!("{base}.{n}") });
        match fs::read(&path) {
            Ok(have) if have == original.as_bytes() => return Ok(path),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.symlink_metadata().is_err() => return Ok(path),
            Err(_) => continue,
        }
    }
    Err(WrapError::Write {
        path: PathBuf::from(base),
        source: std::io::Error::other("a thousand backups exist already; remove old ones"),
    })
}

/// Creates `dir` (and its parents) and makes `dir` itself mode 0700.
fn private_dir(dir: &Path) -> Result<(), WrapError> {
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(write_err(dir))
}

/// Writes `bytes` to a new file next to `path` with `mode`, syncs it, and renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WrapError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.mcpcell-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        // The umask may have narrowed `mode`; a config keeps exactly its old mode.
        f.set_permissions(Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        WrapError::Write { path: path.to_path_buf(), source }
    })
}
