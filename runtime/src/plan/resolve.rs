//! The one impure step of planning: look at the host and pin down every fact the plan needs.

use crate::error::RuntimeError;
use mcpcell_profiles::Profile;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Who the server runs as. The cell maps exactly this one uid/gid; see SECURITY.md for what
/// that means when the launcher runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    /// The invoking user's home path; inside the cell a private tmpfs sits there.
    pub home: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// Anything that is not a directory (regular file, socket, device): bind-mounted as a file.
    File,
    Symlink(PathBuf),
}

/// A host path that exists, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
}

/// A declared filesystem grant after canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGrant {
    /// As written in the profile (after `~` expansion).
    pub requested: PathBuf,
    /// Canonical host path: both the bind source and where it appears in the cell.
    pub path: PathBuf,
    pub is_dir: bool,
    pub writable: bool,
    /// The file `path` named when it was resolved: the cell mounts exactly this one, or refuses
    /// (see [`crate::pathfd`]).
    pub id: crate::pathfd::FileId,
}

pub use crate::secrets::SecretValue;

/// Host facts the plan is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedHost {
    pub identity: Identity,
    /// Absolute path of the server program as found on the host.
    pub program: PathBuf,
    /// Canonical path of the program (what really runs), for the visibility check.
    pub program_canonical: PathBuf,
    pub system: Vec<HostEntry>,
    pub etc: Vec<HostEntry>,
    pub devices: Vec<PathBuf>,
    pub grants: Vec<ResolvedGrant>,
    /// Optional grants that did not exist and were skipped.
    pub skipped_optional: Vec<PathBuf>,
    /// The profile's secrets, obtained (or, for `explain`, only described): env values, the
    /// secret-files directory, and the handle that refreshes and revokes them.
    pub secrets: crate::secrets::Secrets,
    /// Where the profile's tool-pin lockfile lives, and its contents if it exists.
    pub lock_path: PathBuf,
    pub lockfile: Option<mcpcell_profiles::Lockfile>,
}

/// Read-only system trees bound into every cell.
pub const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// The parts of the host's /etc a runtime needs (TLS roots, the dynamic loader, time zone,
/// name service config). Nothing with credentials: no shadow, ssh, sudoers, machine-id.
pub const ETC_ENTRIES: &[&str] = &[
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pki",
    "protocols",
    "services",
    "ssl",
    "timezone",
];

/// Device nodes the cell gets (bind-mounted from the host; nothing else of /dev).
pub const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];

/// Where grants may not point: the cell mounts its own.
const FORBIDDEN_GRANT_ROOTS: &[&str] = &["/proc", "/sys", "/dev"];

/// Whether `resolve` obtains the secrets (to start a cell) or only describes them (`explain`,
/// which must not run helpers or mint credentials: the plan then has the secrets' variables,
/// file mount and relay, with placeholder values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsMode {
    Obtain,
    Skip,
}

/// Resolve everything the plan needs from the host. `env` is the launcher's environment
/// lookup (a closure so tests and `exec` can supply their own).
pub fn resolve(
    profile: &Profile,
    identity: Identity,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    mode: SecretsMode,
) -> Result<ResolvedHost, RuntimeError> {
    // A container image brings its own runtime: the command is found in the image (by the
    // container's init), and none of the host's system trees are used.
    let from_image = profile.sandbox.image.is_some() && profile.sandbox.backend == mcpcell_profiles::Backend::Container;
    let (program, program_canonical) = if from_image {
        (PathBuf::from(&profile.server.command), PathBuf::from(&profile.server.command))
    } else {
        let path_env = env("PATH").unwrap_or_else(|| super::CELL_PATH.to_string());
        let program = find_program(&profile.server.command, &path_env, cwd)?;
        let canonical = std::fs::canonicalize(&program)
            .map_err(|e| RuntimeError::io(format!("resolving {}", program.display()), e))?;
        (program, canonical)
    };

    let mut grants = Vec::new();
    let mut skipped_optional = Vec::new();
    let fs = &profile.filesystem;
    let all = fs.read.iter().map(|g| (g, false)).chain(fs.write.iter().map(|g| (g, true)));
    for (grant, writable) in all {
        match std::fs::canonicalize(&grant.path) {
            Ok(path) => {
                if FORBIDDEN_GRANT_ROOTS.iter().any(|root| path.starts_with(root)) {
                    return Err(RuntimeError::GrantForbidden { path });
                }
                // Pin the file the canonical path names now, without following any symlink: one
                // swapped in since canonicalize (or a component renamed away) is a refusal.
                let (id, is_dir) = crate::pathfd::open_no_symlinks(&path)
                    .and_then(|fd| crate::pathfd::identify(&fd))
                    .map_err(|source| match source.raw_os_error() {
                    Some(libc::ELOOP | libc::ENOENT | libc::ENOTDIR) => {
                        RuntimeError::GrantChanged { path: grant.path.clone() }
                    }
                    _ => RuntimeError::GrantUnresolvable { path: grant.path.clone(), source },
                })?;
                grants.push(ResolvedGrant { requested: grant.path.clone(), path, is_dir, writable, id });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if grant.optional {
                    skipped_optional.push(grant.path.clone());
                } else {
                    return Err(RuntimeError::GrantMissing { path: grant.path.clone() });
                }
            }
            Err(source) => return Err(RuntimeError::GrantUnresolvable { path: grant.path.clone(), source }),
        }
    }

    let config = env("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let locks_dir = config.unwrap_or_else(|| identity.home.join(".config")).join("mcpcell/locks");
    let lock_path = mcpcell_profiles::lockfile_path(profile, &locks_dir);
    let lockfile = mcpcell_profiles::Lockfile::read(&lock_path)
        .map_err(|e| RuntimeError::CellSetup(format!("reading the lockfile: {e}")))?;

    // Last: everything that can fail cheaply has been checked before anything is minted.
    let secrets = match mode {
        SecretsMode::Obtain => crate::secrets::Secrets::obtain(&profile.secrets, env)?,
        SecretsMode::Skip => crate::secrets::Secrets::described(&profile.secrets),
    };

    Ok(ResolvedHost {
        lock_path,
        lockfile,
        identity,
        program,
        program_canonical,
        system: if from_image { Vec::new() } else { entries(SYSTEM_DIRS.iter().map(PathBuf::from)) },
        etc: if from_image { Vec::new() } else { entries(ETC_ENTRIES.iter().map(|e| Path::new("/etc").join(e))) },
        devices: DEVICES.iter().map(PathBuf::from).filter(|p| p.exists()).collect(),
        grants,
        skipped_optional,
        secrets,
    })
}

fn entries(paths: impl Iterator<Item = PathBuf>) -> Vec<HostEntry> {
    paths
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(&path).ok()?;
            let kind = if meta.file_type().is_symlink() {
                EntryKind::Symlink(std::fs::read_link(&path).ok()?)
            } else if meta.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            Some(HostEntry { path, kind })
        })
        .collect()
}

/// PATH lookup as execvp does it, but on the host and before the cell exists, so that a
/// missing command is reported clearly (exit 127) instead of failing inside the cell.
pub fn find_program(command: &str, path_env: &str, cwd: &Path) -> Result<PathBuf, RuntimeError> {
    let not_found = || RuntimeError::CommandNotFound { command: command.into(), path_env: path_env.into() };
    if command.is_empty() {
        return Err(not_found());
    }
    if command.contains('/') {
        let path = normalize(&cwd.join(command));
        return if path.exists() { Ok(path) } else { Err(not_found()) };
    }
    path_env
        .split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(command))
        .find(|candidate| {
            std::fs::metadata(candidate).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
        })
        .ok_or_else(not_found)
}

/// Lexical normalisation: drop `.`, apply `..`. (Grants are canonicalised separately.)
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}
