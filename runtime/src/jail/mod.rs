//! The Linux jail: builds a cell from a [`CellPlan`] and starts the server in it.
//!
//! Process tree: launcher (host) → cell init (pid 1 of the new pid namespace; mounts, then
//! reaps and forwards signals) → server. The steps run in the order of DESIGN.md, each one
//! named below; a failing step reports `step: reason` over a close-on-exec pipe and the start
//! is refused.

mod cgroup;
pub(crate) mod landlock;
mod mounts;
pub(crate) mod process;
pub(crate) mod seccomp;

pub use cgroup::{CellCgroup, CgroupHost};
pub use seccomp::{compile as compile_seccomp, guard as seccomp_guard};

use crate::error::RuntimeError;
use crate::plan::CellPlan;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, Pid};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// A started cell: its init's host pid, plus what must live as long as it does.
#[derive(Debug)]
pub struct Cell {
    pub init: Pid,
    /// The launcher's end of the egress control socket (netd hands connections over it).
    pub egress_control: Option<OwnedFd>,
    /// The proxy serving it, kept alive as long as the cell.
    pub egress_proxy: Option<crate::egress::proxy::EgressProxy>,
    /// The audit log shared by the relay and the egress proxy, when the profile names one.
    pub audit: Option<std::sync::Arc<crate::audit::AuditLog>>,
    /// Our end of the lifeline: when the launcher dies it closes and the init notices.
    _lifeline: Option<OwnedFd>,
    _cgroup: Option<CellCgroup>,
}

/// The server's stdin, stdout and stderr. `inherit()` hands it the launcher's own fds 0-2
/// (the zero-copy relay); `fds` installs others (e.g. pipes for `mcpcell tools`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdio {
    pub fds: Option<[i32; 3]>,
}

impl Stdio {
    pub fn inherit() -> Self {
        Stdio { fds: None }
    }
}

impl Cell {
    /// A container backend's cell: the process standing for it is the shim, which mirrors
    /// the server's status and forwards signals (the shim dies with the launcher by itself).
    pub(crate) fn for_shim(shim: Pid) -> Cell {
        Cell { init: shim, egress_control: None, egress_proxy: None, audit: None, _lifeline: None, _cgroup: None }
    }

    /// SIGTERM the cell, then SIGKILL after `grace`; returns the exit code.
    pub fn terminate(self, grace: std::time::Duration) -> i32 {
        let _ = nix::sys::signal::kill(self.init, Signal::SIGTERM);
        let until = std::time::Instant::now() + grace;
        loop {
            match waitpid(self.init, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, c)) => return c,
                Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
                Ok(_) if std::time::Instant::now() < until => std::thread::sleep(std::time::Duration::from_millis(10)),
                Ok(_) => {
                    let _ = nix::sys::signal::kill(self.init, Signal::SIGKILL);
                    let _ = waitpid(self.init, None);
                    return 137;
                }
                Err(_) => return 125,
            }
        }
    }
}

/// What the cell's failure looked like from inside.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CellStartError {
    /// 125 (the cell could not be built), 126 (exec failed) or 127 (not found).
    pub code: i32,
    pub message: String,
}

const CELL_NAMESPACES: CloneFlags = CloneFlags::CLONE_NEWUSER
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWNET)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWCGROUP);

/// Stack for the cloned init until it forks the server (mount planning runs on it).
const INIT_STACK_BYTES: usize = 1 << 20;

/// Start a cell. The caller must be single-threaded (we fork) and should have blocked the
/// signals it wants to forward (see `supervise::block_signals`).
pub fn spawn(plan: &CellPlan, cgroups: &CgroupHost, stdio: Stdio) -> Result<Cell, SpawnError> {
    // clone() copies only this thread: a lock another thread holds (malloc's, a resolver's)
    // would stay locked forever in the child. Refuse rather than risk a hung cell.
    // A thread that was just joined can still be listed for a moment while the kernel
    // releases it: look again for a little while before refusing.
    let threads = || std::fs::read_dir("/proc/self/task").map(|t| t.count()).unwrap_or(1);
    let mut n = threads();
    for _ in 0..200 {
        if n <= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        n = threads();
    }
    if n > 1 {
        return Err(SpawnError::Refused(RuntimeError::CellSetup(format!(
            "the launcher has {n} threads when it must have one to clone the cell (a bug in mcpcell: something \
             started a thread before the cell and did not join it)"
        ))));
    }
    let exec = process::ExecArgs::new(&plan.exec).map_err(|m| SpawnError::Refused(RuntimeError::CellSetup(m)))?;
    let filters = seccomp::prepare(&plan.seccomp).map_err(|m| SpawnError::Refused(RuntimeError::CellSetup(m)))?;
    let refuse = |m: String| SpawnError::Refused(RuntimeError::CellSetup(m));
    let (cgroup, cgroup_pids) = match cgroups.writable_limits() {
        (None, None) => (None, false),
        _ => {
            let (cg, pids, _memory) =
                CellCgroup::create(cgroups, plan.limits.cgroup_pids, plan.limits.cgroup_memory_bytes)
                    .map_err(refuse)?;
            (Some(cg), pids)
        }
    };
    // RLIMIT_NPROC is not enforced for host uid 0 (the kernel exempts the initial user), so a
    // root launcher needs a pids cgroup to honour [limits] pids. Refuse rather than run
    // without the limit.
    if !cgroup_pids && plan.identity.uid == 0 {
        return Err(SpawnError::Refused(RuntimeError::HostUnsupported {
            feature: "a pids limit",
            why: "mcpcell runs as root and no writable pids cgroup was found (RLIMIT_NPROC does not bind root)".into(),
            fix: "Run mcpcell as a non-root user, or give it a writable cgroup (cgroup v2 with the pids controller delegated, or the v1 pids hierarchy)",
        }));
    }

    let (err_read, err_write) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| SpawnError::Refused(RuntimeError::os("pipe", e)))?;
    let (life_read, life_write) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| SpawnError::Refused(RuntimeError::os("pipe", e)))?;

    // netd (in the cell) ↔ egress proxy (here): one datagram and one socket per connection.
    let (egress_cell, egress_host) = match &plan.egress {
        Some(_) => {
            use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
            let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
                .map_err(|e| SpawnError::Refused(RuntimeError::os("egress control socketpair", e)))?;
            (Some(a), Some(b))
        }
        None => (None, None),
    };

    let mut stack = vec![0u8; INIT_STACK_BYTES];
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let child = Box::new(|| -> isize {
        let cx = ChildContext {
            plan,
            exec: &exec,
            filters: &filters,
            stdio,
            uid,
            gid,
            err_fd: err_write.as_raw_fd(),
            life_fd: life_read.as_raw_fd(),
            egress_fd: egress_cell.as_ref().map(|fd| fd.as_raw_fd()),
        };
        cell_init(&cx);
    });
    // SAFETY: the launcher is single-threaded here, so the child gets a consistent copy of
    // the address space; the child never returns into our frames (cell_init diverges).
    let init = unsafe { nix::sched::clone(child, &mut stack, CELL_NAMESPACES, Some(Signal::SIGCHLD as i32)) }
        .map_err(|e| SpawnError::Refused(namespace_error(e)))?;
    drop(err_write);
    drop(life_read);
    drop(egress_cell);

    if let Some(cg) = &cgroup {
        if let Err(m) = cg.add(init.as_raw()) {
            let _ = nix::sys::signal::kill(init, Signal::SIGKILL);
            let _ = waitpid(init, None);
            return Err(SpawnError::Refused(RuntimeError::CellSetup(m)));
        }
    }
    // Go: the init may fork the server now that the cgroup holds it.
    let mut life = std::fs::File::from(life_write);
    let _ = life.write_all(b"g");

    // EOF without a message means the server was exec'd.
    let mut report = String::new();
    let _ = std::fs::File::from(err_read).read_to_string(&mut report);
    if !report.is_empty() {
        let _ = waitpid(init, None);
        let (code, message) = match report.split_once('\t') {
            Some((c, m)) => (c.parse().unwrap_or(125), m.to_string()),
            None => (125, report),
        };
        return Err(SpawnError::InCell(CellStartError { code, message }));
    }
    Ok(Cell {
        init,
        egress_control: egress_host,
        egress_proxy: None,
        audit: None,
        _lifeline: Some(life.into()),
        _cgroup: cgroup,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Refused(RuntimeError),
    #[error(transparent)]
    InCell(CellStartError),
}

impl SpawnError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Refused(_) => 125,
            SpawnError::InCell(e) => e.code,
        }
    }
}

fn namespace_error(e: nix::Error) -> RuntimeError {
    RuntimeError::HostUnsupported {
        feature: "user namespaces",
        why: format!("clone with new user/mount/pid/net/ipc/uts/cgroup namespaces failed: {e}"),
        fix: "Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 on Debian; \
              kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile on Ubuntu 24.04+; \
              user.max_user_namespaces > 0), or use the container backend",
    }
}

/// Report a failed step to the launcher and exit. Never returns.
fn fail(err_fd: i32, code: i32, step: &str, message: &str) -> ! {
    let text = format!("{code}\t{step}: {message}");
    // SAFETY: writing a buffer we own to a pipe fd we hold; _exit skips atexit handlers and
    // destructors that belong to the launcher's copy of this address space.
    unsafe {
        libc::write(err_fd, text.as_ptr().cast(), text.len());
        libc::_exit(code)
    }
}

/// What the cloned child needs, all prepared before the clone.
struct ChildContext<'a> {
    plan: &'a CellPlan,
    exec: &'a process::ExecArgs,
    filters: &'a seccomp::CompiledFilters,
    stdio: Stdio,
    uid: u32,
    gid: u32,
    /// Write end of the error pipe (close-on-exec).
    err_fd: i32,
    /// Read end of the lifeline pipe: a byte means go, EOF means the launcher died.
    life_fd: i32,
    /// The cell's end of the egress control socket, when the profile declares egress.
    egress_fd: Option<i32>,
}

/// The cell's init (pid 1 inside). Runs the namespace-wide steps, forks the server, then
/// supervises it.
fn cell_init(cx: &ChildContext<'_>) -> ! {
    let (plan, err_fd) = (cx.plan, cx.err_fd);
    let step = |name: &str, r: Result<(), String>| {
        if let Err(m) = r {
            fail(err_fd, 125, name, &m)
        }
    };
    step("die with the launcher", process::die_with_parent());
    step("map the user", map_identity(cx.uid, cx.gid));
    step("hostname", nix::unistd::sethostname(&plan.hostname).map_err(|e| e.to_string()));
    step("mounts", mounts::apply(&plan.mounts));
    // After the go: the launcher has put us in the cell's cgroup, and netd must be in it too
    // (a v1 cgroup.procs write moves our threads, not children forked before it).
    step("wait for the launcher", wait_for_go(cx.life_fd));
    if let (Some(allow), Some(control)) = (&plan.egress, cx.egress_fd) {
        step("egress (netd)", start_netd(cx, allow, control));
    }

    // SAFETY: the init is single-threaded; the child only runs the server steps and execs.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => server(cx),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // SAFETY: closing our copy of the error pipe: from here on only the server holds it.
            unsafe { libc::close(err_fd) };
            init_loop(child)
        }
        Err(e) => fail(err_fd, 125, "fork the server", &e.to_string()),
    }
}

/// Bind the egress sockets (port 53 needs the init's privileges), then fork netd, which drops
/// everything before it reads a single byte from the server. The init keeps none of it.
fn start_netd(cx: &ChildContext<'_>, allow: &crate::egress::EgressAllowlist, control: i32) -> Result<(), String> {
    use crate::egress::netd;
    netd::bring_up_loopback().map_err(|e| format!("bringing up the cell's loopback: {e}"))?;
    let sockets = netd::NetdSockets::bind(allow).map_err(|e| format!("binding the DNS stub and forwarders: {e}"))?;
    // SAFETY: the init is single-threaded; the child hardens itself and serves, never returning.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let mut keep = sockets.raw_fds();
            keep.extend([control, 2]);
            let step = |name: &str, r: Result<(), String>| {
                if let Err(m) = r {
                    fail(cx.err_fd, 125, &format!("netd: {name}"), &m)
                }
            };
            step("die with the cell init", process::die_with_parent());
            step("reset signals", process::reset_signals());
            step("new session", process::new_session());
            step("drop capabilities", process::drop_capabilities());
            step("no_new_privs", process::no_new_privs());
            step("landlock", landlock::restrict(&crate::plan::LandlockPlan::nothing(plan_min_abi(cx))).map(drop));
            step("seccomp", seccomp::install(cx.filters));
            process::close_all_but(&keep);
            // SAFETY: `control` is the cell end of the socketpair, open and owned by this process.
            let control = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(control) };
            netd::run(sockets, crate::egress::NameTable::new(allow.clone()), control)
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(sockets);
            // SAFETY: closing the init's copy of the control socket; netd holds its own.
            unsafe { libc::close(control) };
            Ok(())
        }
        Err(e) => Err(format!("fork: {e}")),
    }
}

fn plan_min_abi(cx: &ChildContext<'_>) -> u8 {
    cx.plan.landlock.min_abi
}

/// The server process: per-process hardening in order, then exec.
fn server(cx: &ChildContext<'_>) -> ! {
    let (plan, err_fd) = (cx.plan, cx.err_fd);
    let step = |name: &str, r: Result<(), String>| {
        if let Err(m) = r {
            fail(err_fd, 125, name, &m)
        }
    };
    step("die with the cell init", process::die_with_parent());
    step("reset signals", process::reset_signals());
    step("stdio", process::install_stdio(cx.stdio.fds));
    step("new session (no controlling tty)", process::new_session());
    step("resource limits", process::set_rlimits(&plan.limits));
    step(
        "working directory",
        nix::unistd::chdir(&plan.exec.cwd).map_err(|e| format!("{}: {e}", plan.exec.cwd.display())),
    );
    step("close inherited fds", process::close_inherited_fds());
    step("drop capabilities", process::drop_capabilities());
    step("no_new_privs", process::no_new_privs());
    step("landlock", landlock::restrict(&plan.landlock).map(drop));
    step("seccomp", seccomp::install(cx.filters));
    let (code, message) = cx.exec.exec();
    fail(err_fd, code, "exec", &message)
}

fn map_identity(uid: u32, gid: u32) -> Result<(), String> {
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| format!("writing /proc/self/{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1\n"))?;
    write("gid_map", format!("{gid} {gid} 1\n"))
}

/// Block until the launcher says go (it has put us in the cell's cgroup). EOF instead of a
/// byte means the launcher died: give up.
fn wait_for_go(fd: i32) -> Result<(), String> {
    let mut byte = [0u8; 1];
    // SAFETY: reading one byte into a buffer we own.
    let n = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
    if n == 1 {
        Ok(())
    } else {
        Err("the launcher went away".into())
    }
}

/// pid 1 of the cell: forward signals to the server, reap everything, exit with the server's
/// status (128+n for a signal). Exiting tears the whole pid namespace down.
fn init_loop(server: Pid) -> ! {
    use nix::sys::signal::{SigSet, SigmaskHow};
    let forwarded =
        [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in forwarded {
        set.add(s);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    // Close every fd: 0-2 belong to the server, and whatever else the launcher inherited
    // (from its own parent) has no business staying open in the cell.
    // SAFETY: close_range only closes fds of this process; none is used below.
    unsafe { libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) };
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(server, sig);
            continue;
        }
        loop {
            match waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == server => exit_now(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == server => exit_now(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: immediate exit of the init; nothing to flush.
    unsafe { libc::_exit(code) }
}
