//! From a loaded profile to a running cell: the sequence every command that starts a server
//! follows (`run`, `exec`, `tools`).

use crate::error::RuntimeError;
use crate::jail::{self, Cell, CgroupHost, SpawnError, Stdio};
use crate::plan::{self, CellPlan, Identity};
use crate::relay::session::RelaySession;
use mcpcell_profiles::Profile;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;

/// The invoking user, as the cell will present it.
pub fn identity() -> Identity {
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    let user = nix::unistd::User::from_uid(uid).ok().flatten();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| user.as_ref().map(|u| u.dir.clone()))
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = user.map(|u| u.name).unwrap_or_else(|| format!("u{uid}"));
    // Canonical so that grants under a symlinked home still nest under the private home.
    let home = std::fs::canonicalize(&home).unwrap_or(home);
    Identity { uid: uid.as_raw(), gid: gid.as_raw(), user: name, home }
}

/// Resolve the host, obtain the secrets and build the plan; nothing is started. Minted
/// secrets are revoked when the plan (its last copy) is dropped.
pub fn prepare(profile: &Profile) -> Result<CellPlan, RuntimeError> {
    prepare_with(profile, plan::SecretsMode::Obtain)
}

/// The plan without obtaining secrets (no helper runs, nothing is minted): for `explain`.
pub fn prepare_described(profile: &Profile) -> Result<CellPlan, RuntimeError> {
    prepare_with(profile, plan::SecretsMode::Skip)
}

fn prepare_with(profile: &Profile, mode: plan::SecretsMode) -> Result<CellPlan, RuntimeError> {
    let cwd = std::env::current_dir().map_err(|e| RuntimeError::io("reading the current directory", e))?;
    let env = |k: &str| std::env::var(k).ok();
    let host = plan::resolve(profile, identity(), &cwd, &env, mode)?;
    plan::plan(profile, &host)
}

/// Check the host can enforce the plan, then build the cell and start the server.
pub fn start(plan: &CellPlan, stdio: Stdio) -> Result<Cell, SpawnError> {
    crate::host::require(plan).map_err(SpawnError::Refused)?;
    // Names only: values (and so secrets) never reach a log line.
    tracing::debug!(
        profile = %plan.profile,
        program = %plan.exec.program.display(),
        mounts = plan.mounts.ops.len(),
        binds = plan.mounts.binds().count(),
        env = ?plan.exec.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        seccomp_rules = plan.seccomp.deny.len(),
        "building the cell"
    );
    let audit = match plan.relay.as_ref().and_then(|r| r.audit_file.as_ref().map(|f| (f, r.audit_max_bytes))) {
        Some((file, max)) => {
            Some(std::sync::Arc::new(crate::audit::AuditLog::open(file, max, &plan.profile).map_err(|e| {
                SpawnError::Refused(RuntimeError::io(format!("opening the audit file {}", file.display()), e))
            })?))
        }
        None => None,
    };
    let mut cell = match &plan.container {
        Some(container) => {
            // The container runs as its own uid (65534 for a root launcher): the secret files
            // must be readable by it, and by nobody else.
            let (uid, gid) = container.user.split_once(':').unwrap_or(("65534", "65534"));
            if let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse()) {
                plan.secrets.give_to(uid, gid).map_err(|e| SpawnError::Refused(RuntimeError::CellSetup(e)))?;
            }
            crate::container::spawn(plan, stdio)?
        }
        None => jail::spawn(plan, &CgroupHost::detect(), stdio)?,
    };
    cell.audit = audit.clone();
    // Threads only now: the launcher had to be single-threaded to clone the cell.
    if let Err(e) = plan.secrets.start_refresh() {
        cell.terminate(std::time::Duration::ZERO);
        return Err(SpawnError::Refused(RuntimeError::io("starting the secrets refresh", e)));
    }
    if let (Some(allow), Some(control)) = (&plan.egress, cell.egress_control.take()) {
        match crate::egress::proxy::start(control, allow.clone(), plan.profile.clone(), audit) {
            Ok(proxy) => cell.egress_proxy = Some(proxy),
            Err(e) => {
                cell.terminate(std::time::Duration::ZERO);
                return Err(SpawnError::Refused(RuntimeError::io("starting the egress proxy", e)));
            }
        }
    }
    Ok(cell)
}

/// Start the cell and, when the plan asks for MCP inspection, the relay between our stdio and
/// the server's; otherwise the server gets our stdio fds directly (zero-copy).
pub fn start_serving(plan: &CellPlan) -> Result<(Cell, Option<RelaySession>), SpawnError> {
    let Some(relay_plan) = &plan.relay else { return Ok((start(plan, Stdio::inherit())?, None)) };
    let refused = |what: &str, e: std::io::Error| SpawnError::Refused(RuntimeError::io(what, e));
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| refused("relay pipe", e.into()));
    let (to_server_r, to_server_w) = pipe()?;
    let (from_server_r, from_server_w) = pipe()?;
    let cell = start(plan, Stdio { fds: Some([to_server_r.as_raw_fd(), from_server_w.as_raw_fd(), 2]) })?;
    drop((to_server_r, from_server_w));
    let dup = |fd: i32| {
        nix::unistd::dup(fd)
            // SAFETY: dup returned a fresh fd that nothing else owns.
            .map(|raw| unsafe { std::fs::File::from_raw_fd(raw) })
            .map_err(|e| refused("duplicating stdio for the relay", e.into()))
    };
    let session = crate::relay::session::start(
        relay_plan.clone(),
        cell.audit.clone(),
        dup(0)?,
        dup(1)?,
        std::fs::File::from(to_server_w),
        std::fs::File::from(from_server_r),
    )
    .map_err(|e| refused("starting the relay", e))?;
    Ok((cell, Some(session)))
}

/// Start the plan's server in a cell on pipes of our own, do the MCP handshake, list its tools
/// (as the server sends them: no relay in between), and stop the cell. For `tools`, `lock`,
/// `diff`. Returns the `initialize` result and the tools.
pub fn list_server_tools(
    plan: &CellPlan,
    timeout: std::time::Duration,
) -> Result<(serde_json::Value, Vec<crate::mcp_client::ToolInfo>), ListToolsError> {
    let refused = |what: &str, e: nix::Error| SpawnError::Refused(RuntimeError::os(what, e));
    let (to_server_r, to_server_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| refused("pipe", e))?;
    let (from_server_r, from_server_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| refused("pipe", e))?;
    let stdio = Stdio { fds: Some([to_server_r.as_raw_fd(), from_server_w.as_raw_fd(), 2]) };
    let cell = start(plan, stdio)?;
    drop((to_server_r, from_server_w));
    let mut session = crate::mcp_client::McpSession::new(
        std::fs::File::from(to_server_w),
        std::fs::File::from(from_server_r),
        timeout,
    );
    let result = session.initialize().and_then(|init| Ok((init, session.list_tools()?)));
    drop(session);
    cell.terminate(plan.shutdown_grace);
    Ok(result?)
}

#[derive(Debug, thiserror::Error)]
pub enum ListToolsError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Mcp(#[from] crate::mcp_client::McpError),
}
