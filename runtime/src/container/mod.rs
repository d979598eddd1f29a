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
/// The launcher's end of the egress control channel: a listening unix socket in a private
/// directory, removed once netd has connected (or on failure).
struct EgressListener {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    socket: std::os::fd::OwnedFd,
}

impl EgressListener {
    fn new(container: &crate::plan::ContainerPlan) -> Result<Self, String> {
        use nix::sys::socket::{bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
        use std::os::unix::fs::PermissionsExt;
        let mut random = [0u8; 6];
        // SAFETY: getrandom writes at most random.len() bytes into the buffer we own.
        unsafe { libc::getrandom(random.as_mut_ptr().cast(), random.len(), 0) };
        let tag: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dir = shim::runtime_dir().join("egress").join(format!("{}-{tag}", std::process::id()));
        shim::create_private_dir(&dir)?;
        let path = dir.join("egress.sock");
        let socket = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
            .map_err(|e| format!("egress socket: {e}"))?;
        let addr = UnixAddr::new(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        bind(std::os::fd::AsRawFd::as_raw_fd(&socket), &addr)
            .map_err(|e| format!("binding {}: {e}", path.display()))?;
        listen(&socket, Backlog::new(1).map_err(|e| e.to_string())?).map_err(|e| format!("listen: {e}"))?;
        // Only the container's user may connect (the directory keeps everyone else out).
        let (uid, gid) = container.user.split_once(':').unwrap_or(("65534", "65534"));
        let (uid, gid) = (uid.parse().ok(), gid.parse().ok());
        std::os::unix::fs::chown(&path, uid, gid).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(EgressListener { dir, path, socket })
    }

    /// Wait for netd's connection, or for the shim to exit (the container stopped first: its
    /// init said why on stderr), whichever comes first.
    fn accept(&self, shim: nix::unistd::Pid, timeout: std::time::Duration) -> Result<std::os::fd::OwnedFd, Accept> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::{AsFd, FromRawFd};
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd (or -1).
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, shim.as_raw(), 0) };
        if raw < 0 {
            return Err(Accept::Failed(format!("pidfd_open: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: pidfd_open returned a fresh fd that nothing else owns.
        let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw as i32) };
        let mut fds =
            [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN), PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) => {
                return Err(Accept::Failed(format!(
                    "the container's netd did not connect within {} s",
                    timeout.as_secs()
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Accept::Failed(format!("waiting for the container's netd: {e}"))),
        }
        let connected = fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        if !connected {
            let code = match nix::sys::wait::waitpid(shim, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
                Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                _ => 125,
            };
            return Err(Accept::Exited(code));
        }
        let fd = nix::sys::socket::accept4(
            std::os::fd::AsRawFd::as_raw_fd(&self.socket),
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Accept::Failed(format!("accepting the container's netd: {e}")))?;
        // SAFETY: accept4 returned a fresh fd that nothing else owns.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
    }
}

/// Why netd's connection did not come.
enum Accept {
    /// The shim (so the container) exited first, with this status.
    Exited(i32),
    Failed(String),
}

impl Drop for EgressListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn spawn(plan: &CellPlan, stdio: Stdio) -> Result<Cell, SpawnError> {
    let refuse = |m: String| SpawnError::Refused(RuntimeError::Container(m));
    let Some(container) = &plan.container else { return Err(refuse("the plan has no container part".into())) };
    let init = init::InitMessage {
        exec: plan.exec.clone(),
        landlock: plan.landlock.clone(),
        limits: plan.limits.clone(),
        grace_ms: plan.shutdown_grace.as_millis() as u64,
        egress: plan.egress.clone(),
        grants: plan
            .mounts
            .ops
            .iter()
            .filter_map(|op| match op {
                crate::plan::MountOp::Bind { dest, id: Some(id), .. } => Some((dest.clone(), *id)),
                _ => None,
            })
            .collect(),
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
    // Egress: the container's netd connects to this socket (bound into the container), and the
    // connection becomes the proxy's control channel, as the jail's socketpair does.
    let egress = match &plan.egress {
        Some(_) => Some(EgressListener::new(container).map_err(refuse)?),
        None => None,
    };

    // Taken before the fork: in the child, getppid() would already be a reaper's pid if the
    // launcher died first.
    let launcher = nix::unistd::getpid();
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
                egress_socket: egress.as_ref().map(|e| e.path.clone()),
                grace: plan.shutdown_grace,
                launcher,
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
            let mut cell = Cell::for_shim(child);
            if let Some(listener) = egress {
                match listener.accept(child, std::time::Duration::from_secs(30)) {
                    Ok(control) => cell.egress_control = Some(control),
                    Err(Accept::Exited(code)) => {
                        return Err(SpawnError::InCell(CellStartError {
                            code,
                            message: "the container stopped before its egress service started (its init said why \
                                      on stderr, above)"
                                .into(),
                        }))
                    }
                    Err(Accept::Failed(m)) => {
                        cell.terminate(plan.shutdown_grace);
                        return Err(refuse(m));
                    }
                }
            }
            Ok(cell)
        }
        Err(e) => Err(SpawnError::Refused(RuntimeError::os("fork the container shim", e))),
    }
}
