//! Errors of the runtime. Each names the path, syscall or setting that failed and, where we
//! know it, how to fix it. Secret values never appear here: only secret names.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{path}: granted path does not exist; create it, remove the grant, or mark it optional")]
    GrantMissing { path: PathBuf },

    #[error("{path}: cannot resolve granted path: {source}")]
    GrantUnresolvable { path: PathBuf, source: std::io::Error },

    #[error("{path}: granted path changed while mcpcell was resolving it (a symlink or a rename raced the start); nothing was started. Try again, and check who else can write to its parent directories")]
    GrantChanged { path: PathBuf },

    #[error("{path}: paths under /proc, /sys and /dev cannot be granted; the cell mounts its own")]
    GrantForbidden { path: PathBuf },

    #[error("command {command:?} not found in PATH ({path_env}); install it or give an absolute path")]
    CommandNotFound { command: String, path_env: String },

    #[error("command {path} is not visible inside the cell (it is outside the system directories and every grant); grant its directory with --read {dir} (or [filesystem] read = [\"{dir}\"])")]
    CommandNotVisible { path: PathBuf, dir: PathBuf },

    #[error("working directory {path} is not visible inside the cell; grant it or choose another cwd")]
    CwdNotVisible { path: PathBuf },

    #[error("[sandbox] image is set but the backend is the jail: an image only applies to backend = \"container\"; set it, or remove the image")]
    ImageNeedsContainer,

    #[error("container engine: {0}")]
    Container(String),

    #[error("secret {name}: {reason}")]
    Secret { name: String, reason: String },

    #[error("{feature} is required but not available on this host: {why}. {fix}")]
    HostUnsupported { feature: &'static str, why: String, fix: &'static str },

    #[error("cannot build the cell: {0}")]
    CellSetup(String),

    #[error("{what}: {source}")]
    Os { what: String, source: nix::Error },

    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl RuntimeError {
    /// The launcher's exit status for this error: 127 for a command that does not exist (as a
    /// shell would), 125 for everything mcpcell refuses.
    pub fn exit_code(&self) -> u8 {
        match self {
            RuntimeError::CommandNotFound { .. } => 127,
            _ => 125,
        }
    }

    pub(crate) fn os(what: impl Into<String>, source: nix::Error) -> Self {
        RuntimeError::Os { what: what.into(), source }
    }
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RuntimeError::Io { what: what.into(), source }
    }
}
