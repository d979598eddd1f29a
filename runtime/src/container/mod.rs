//! The container backend: the same cell, built by a Docker-compatible engine through bollard.
//!
//! Process tree: launcher → shim (a forked launcher process that talks to the engine and
//! pumps stdio over the attach connection; it dies with the launcher) → container, whose pid 1
//! is the mcpcell binary ([`init`]) → server.
//!
//! The shim stands where the jail's cell init stands for the launcher: `supervise` forwards
//! signals to it (it forwards them to the container), and its exit status is the server's.
//! Hardening on every container, in the order [`shim`] applies it: read-only root, every
//! capability dropped, no-new-privileges, the jail's seccomp list as an engine profile, a
//! non-root user, pids/memory limits, size-limited tmpfs for /tmp and $HOME, no network, no
//! host namespaces, no logging of the stdio stream; then inside, the init re-applies
//! rlimits, Landlock and the jail's own seccomp filter before exec.

pub mod engine;
pub mod image;
pub mod init;
pub mod seccomp_profile;
mod shim;

use crate::error::RuntimeError;
use crate::jail::{Cell, CellStartError, SpawnError, Stdio};
use crate::plan::CellPlan;
use std::io::Read;

/// Start the plan's server in a container. Like `jail::spawn`, the caller must be
/// single-threaded (we fork) and should have blocked the signals it forwards.
pub fn spawn(plan: &CellPlan, stdio: Stdio) -> Result<Cell, SpawnError> {
    let refuse = |m: String| SpawnError::Refused(RuntimeError::Container(m));
    let Some(container) = &plan.container else { return Err(refuse("the plan has no container part".into())) };
    let init = init::InitMessage {
        exec: plan.exec.clone(),
        landlock: plan.landlock.clone(),
        limits: plan.limits.clone(),
        grace_ms: plan.shutdown_grace.as_millis() as u64,
    };
    // Secrets are in here: it only ever goes to the container's stdin.
    let mut init_line = serde_json::to_vec(&init).map_err(|e| refuse(format!("encoding the cell plan: {e}")))?;
    init_line.push(b'\n');
    if plan.seccomp != crate::plan::SeccompPolicy::default_deny() {
        return Err(refuse("the container init applies the default seccomp policy only".into()));
    }
    let seccomp = seccomp_profile::engine_profile(&plan.seccomp).to_string();
    let init_binary = std::env::current_exe().map_err(|e| refuse(format!("locating the mcpcell binary: {e}")))?;
    let (err_read, err_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| SpawnError::Refused(RuntimeError::os("pipe", e)))?;

    // SAFETY: the launcher is single-threaded here (no runtime has started), so the child gets
    // a consistent copy of the address space; it exits without returning.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(err_read);
            let job = shim::Job {
                profile: plan.profile.clone(),
                container: container.clone(),
                init_line,
                seccomp,
                init_binary,
                stdio,
            };
            shim::run(job, err_write)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(err_write);
            // EOF without a message: the container started.
            let mut report = String::new();
            let _ = std::fs::File::from(err_read).read_to_string(&mut report);
            if !report.is_empty() {
                let _ = nix::sys::wait::waitpid(child, None);
                let (code, message) = match report.split_once('\t') {
                    Some((c, m)) => (c.parse().unwrap_or(125), m.to_string()),
                    None => (125, report),
                };
                return Err(SpawnError::InCell(CellStartError { code, message }));
            }
            tracing::debug!(shim = child.as_raw(), "container started");
            Ok(Cell::for_shim(child))
        }
        Err(e) => Err(SpawnError::Refused(RuntimeError::os("fork the container shim", e))),
    }
}
