//! Turning a profile into a cell plan.
//!
//! Two steps, kept apart on purpose:
//! - [`resolve`] looks at the host (stat, canonicalise, PATH lookup, read secrets). It is the only
//!   part that touches the filesystem, and everything that can fail because of the host fails
//!   here, before any process is forked (DESIGN.md, jail step 1).
//! - [`plan`] is a pure function from the profile and the resolved facts to a [`CellPlan`]:
//!   the exact mounts, Landlock rules, seccomp policy, environment and limits. Unit tests pin it.

mod container;
mod landlock;
mod mounts;
pub(crate) mod resolve;
mod seccomp;

pub use self::landlock::LandlockPlan;
pub use container::{
    base_image, container_identity, ContainerBind, ContainerPlan, CONTAINER_FALLBACK_ID, CONTAINER_INIT_PATH,
    LABEL_LAUNCHER, LABEL_PARENT, LABEL_PROFILE,
};
pub use mounts::{MountOp, MountPlan};
pub use resolve::{resolve, EntryKind, HostEntry, Identity, ResolvedGrant, ResolvedHost, SecretValue, SecretsMode};
pub use seccomp::{ArgMatch, DeniedSyscall, SeccompPolicy};

use crate::error::RuntimeError;
use mcpcell_profiles::{Backend, Profile};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything needed to build one cell, computed without side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellPlan {
    pub profile: String,
    pub hostname: String,
    pub identity: Identity,
    pub exec: ExecPlan,
    pub mounts: MountPlan,
    pub landlock: LandlockPlan,
    pub seccomp: SeccompPolicy,
    pub limits: LimitsPlan,
    /// Present when the profile declares egress: the allowlist both sides of the cell enforce.
    pub egress: Option<crate::egress::EgressAllowlist>,
    /// Present when the profile asks for MCP inspection ([tools] or [audit]): stdio then goes
    /// through the relay instead of straight to the server.
    pub relay: Option<crate::relay::session::RelayPlan>,
    /// Where this profile's tool-pin lockfile lives (`mcpcell lock` writes it there).
    pub lock_path: PathBuf,
    pub shutdown_grace: Duration,
    /// Present for the container backend: the same cell as engine settings.
    pub container: Option<ContainerPlan>,
    /// File delivery: the host directory bound read-only into the cell, and which file each
    /// env var names. Data any backend can apply.
    pub secret_files: Option<crate::secrets::SecretFilesPlan>,
    /// The live secrets (refresh while the cell runs, revocation when the launcher exits).
    pub secrets: crate::secrets::Secrets,
}

/// What is finally executed inside the cell.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExecPlan {
    /// Absolute path of the program, identical inside and outside the cell.
    pub program: PathBuf,
    /// argv, argv[0] included.
    pub argv: Vec<String>,
    /// The complete environment of the server (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Names of env entries that carry secrets (their values must never be printed).
    pub secret_env: Vec<String>,
    pub cwd: PathBuf,
}

impl std::fmt::Debug for ExecPlan {
    /// Secret values are replaced; their names stay visible.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), if self.secret_env.contains(k) { "<redacted>" } else { v.as_str() }))
            .collect();
        f.debug_struct("ExecPlan")
            .field("program", &self.program)
            .field("argv", &self.argv)
            .field("env", &env)
            .field("secret_env", &self.secret_env)
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// Resource limits and how each is enforced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LimitsPlan {
    /// (resource, soft = hard) pairs, applied with setrlimit in the server before exec.
    pub rlimits: Vec<(Rlimit, u64)>,
    pub cgroup_memory_bytes: u64,
    pub cgroup_pids: u64,
    pub tmpfs_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Rlimit {
    /// No core dumps: a core file would contain the server's secrets.
    Core,
    Cpu,
    Data,
    FileSize,
    NoFile,
    NProc,
}

impl Rlimit {
    pub fn name(self) -> &'static str {
        match self {
            Rlimit::Core => "RLIMIT_CORE",
            Rlimit::Cpu => "RLIMIT_CPU",
            Rlimit::Data => "RLIMIT_DATA",
            Rlimit::FileSize => "RLIMIT_FSIZE",
            Rlimit::NoFile => "RLIMIT_NOFILE",
            Rlimit::NProc => "RLIMIT_NPROC",
        }
    }
}

/// PATH inside the cell: the system directories only (the host's PATH often names home
/// directories that the cell does not have).
pub const CELL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build the plan. Pure: same inputs, same plan.
pub fn plan(profile: &Profile, host: &ResolvedHost) -> Result<CellPlan, RuntimeError> {
    let container = profile.sandbox.backend == Backend::Container;
    if !container && profile.sandbox.image.is_some() {
        return Err(RuntimeError::ImageNeedsContainer);
    }
    let from_image = container && profile.sandbox.image.is_some();
    // In a container the server never runs as root (the engine maps no user namespace).
    let remapped;
    let host = if container {
        remapped = ResolvedHost { identity: container_identity(&host.identity), ..host.clone() };
        &remapped
    } else {
        host
    };
    let egress = (!profile.network.egress.is_empty())
        .then(|| crate::egress::EgressAllowlist::new(profile.network.egress.clone()));

    let mounts = mounts::plan_mounts(profile, host)?;
    let container_plan = container.then(|| {
        let mut c = container::plan_container(&mounts, &host.identity, &profile.limits);
        if let Some(image) = &profile.sandbox.image {
            c.image = image.clone();
        }
        c
    });
    let visible = |p: &Path| mounts.is_visible(p);
    if !from_image && !visible(&host.program) {
        let dir = host.program.parent().unwrap_or(Path::new("/")).to_path_buf();
        return Err(RuntimeError::CommandNotVisible { path: host.program.clone(), dir });
    }
    let cwd = profile.server.cwd.clone().unwrap_or_else(|| host.identity.home.clone());
    if !visible(&cwd) {
        return Err(RuntimeError::CwdNotVisible { path: cwd });
    }

    Ok(CellPlan {
        profile: profile.name.clone(),
        hostname: "mcpcell".to_string(),
        identity: host.identity.clone(),
        exec: plan_exec(profile, host, cwd, egress.is_some()),
        landlock: landlock::plan_landlock(profile, host, egress.as_ref()),
        seccomp: SeccompPolicy::default_deny(),
        limits: plan_limits(profile),
        mounts,
        egress,
        // A lockfile means pins to enforce, so the relay runs even without [tools]/[audit].
        // Secrets need the relay too: what the server sends back is checked for them.
        relay: (profile.tools.is_configured()
            || profile.audit.file.is_some()
            || host.lockfile.as_ref().is_some_and(|l| l.tools.is_some())
            || !host.secrets.is_empty())
        .then(|| crate::relay::session::RelayPlan {
            profile: profile.name.clone(),
            spec: match &profile.origin {
                mcpcell_profiles::Origin::File(path) => path.display().to_string(),
                _ => profile.name.clone(),
            },
            policy: profile.tools.clone(),
            audit_file: profile.audit.file.clone(),
            audit_max_bytes: profile.audit.max_bytes,
            pins: crate::relay::session::PinPlan {
                mode: profile.tools.pins,
                lock_path: host.lock_path.clone(),
                locked: host.lockfile.as_ref().and_then(|l| l.tools.clone()),
            },
            secrets: host.secrets.registry(),
        }),
        lock_path: host.lock_path.clone(),
        shutdown_grace: Duration::from_millis(profile.sandbox.shutdown_grace_ms),
        container: container_plan,
        secret_files: host.secrets.files_plan().cloned(),
        secrets: host.secrets.clone(),
    })
}

fn plan_exec(profile: &Profile, host: &ResolvedHost, cwd: PathBuf, egress: bool) -> ExecPlan {
    let id = &host.identity;
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), CELL_PATH.into()),
        ("HOME".into(), id.home.display().to_string()),
        ("USER".into(), id.user.clone()),
        ("LOGNAME".into(), id.user.clone()),
        ("TMPDIR".into(), "/tmp".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    let mut set = |k: &str, v: &str| match env.iter_mut().find(|(name, _)| name == k) {
        Some(entry) => entry.1 = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    };
    if egress {
        // For runtimes that prefer an explicit proxy; never a way around the allowlist (the
        // in-cell proxy applies the same one), and never needed (DNS + forwarder cover all).
        let proxy = format!("http://127.0.0.1:{}", crate::egress::HTTP_PROXY_PORT);
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            set(name, &proxy);
        }
        set("NO_PROXY", "localhost,127.0.0.1");
        set("no_proxy", "localhost,127.0.0.1");
    }
    for (k, v) in &profile.server.env {
        set(k, v);
    }
    let mut secret_env = Vec::new();
    for (name, value) in host.secrets.env_values() {
        set(name, value.expose());
        secret_env.push(name.clone());
    }
    // File delivery: the variable holds the path (not a secret); the value is in the file.
    if let Some(files) = host.secrets.files_plan() {
        for f in &files.files {
            set(&f.env, &files.cell_path(f).display().to_string());
        }
    }
    let mut argv = vec![profile.server.command.clone()];
    argv.extend(profile.server.args.iter().cloned());
    ExecPlan { program: host.program.clone(), argv, env, secret_env, cwd }
}

fn plan_limits(profile: &Profile) -> LimitsPlan {
    let l = &profile.limits;
    let mut rlimits = vec![
        (Rlimit::Core, 0),
        (Rlimit::Data, l.memory_bytes),
        (Rlimit::FileSize, l.file_size_bytes),
        (Rlimit::NoFile, l.open_files),
        (Rlimit::NProc, l.pids),
    ];
    if let Some(cpu) = l.cpu_seconds {
        rlimits.push((Rlimit::Cpu, cpu));
    }
    LimitsPlan { rlimits, cgroup_memory_bytes: l.memory_bytes, cgroup_pids: l.pids, tmpfs_bytes: l.tmpfs_bytes }
}

pub(crate) fn describe_egress(rule: &mcpcell_profiles::EgressRule) -> String {
    let host = match &rule.host {
        mcpcell_profiles::HostPattern::Exact(h) => format!("{h}:{}", rule.port),
        mcpcell_profiles::HostPattern::Subdomains(d) => format!("*.{d}:{}", rule.port),
    };
    if rule.allow_private {
        format!("{host} (private/loopback addresses allowed)")
    } else {
        host
    }
}

#[cfg(test)]
mod tests;
