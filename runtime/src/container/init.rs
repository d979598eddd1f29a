//! pid 1 of an mcpcell container: the mcpcell binary itself, mounted read-only, started as
//! `mcpcell __container-init`. The engine has built the namespaces, mounts, cgroup limits and
//! its own seccomp filter; the init adds the jail's per-process steps (defence in depth) and
//! ties the server's life to the launcher's.
//!
//! Protocol: the launcher writes one JSON line on the container's stdin before anything else
//! (the [`InitMessage`]: argv, environment — secrets included, which therefore never appear in
//! the container's configuration — rlimits, Landlock rules). Everything after that line is
//! the server's stdin. When stdin hangs up (the launcher or the client went away), the server
//! gets the grace period, then SIGTERM, then SIGKILL.

use crate::plan::{ExecPlan, LandlockPlan, LimitsPlan, SeccompPolicy};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

/// What the launcher tells the init, on the first line of stdin.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct InitMessage {
    pub exec: ExecPlan,
    pub landlock: LandlockPlan,
    pub limits: LimitsPlan,
    pub grace_ms: u64,
    /// The egress allowlist: the init starts netd (DNS stub, forwarders) for it.
    pub egress: Option<crate::egress::EgressAllowlist>,
    /// Each grant's path in the container and the file the launcher resolved it to: the
    /// engine binds by name, so the init checks it bound that file (see [`crate::pathfd`]).
    #[serde(default)]
    pub grants: Vec<(std::path::PathBuf, crate::pathfd::FileId)>,
}

/// Where the launcher's egress control socket is bound in the container.
pub const EGRESS_SOCKET: &str = "/.mcpcell/egress.sock";

/// Longest first line accepted (the environment can be large, not unbounded).
const MAX_INIT_LINE: usize = 1 << 20;

/// Run the init; returns the exit code (the server's, or 125-127 when it could not start).
pub fn main() -> i32 {
    match run() {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("mcpcell (container init): {message}");
            code
        }
    }
}

type Failure = (i32, String);
type Step<'a> = dyn Fn() -> Result<(), String> + 'a;

fn fail(step: &'static str) -> impl Fn(String) -> Failure {
    move |e| (125, format!("{step}: {e}"))
}

fn run() -> Result<i32, Failure> {
    let msg = read_init_line().map_err(fail("reading the cell plan from stdin"))?;
    let mut msg: InitMessage = serde_json::from_slice(&msg).map_err(|e| {
        // Line and column only: serde's message can quote a value, and the plan holds secrets.
        fail("parsing the cell plan")(format!("invalid at line {}, column {}", e.line(), e.column()))
    })?;
    // An image's own runtime: find the command in it, as execvp would.
    if !msg.exec.program.is_absolute() {
        let path =
            msg.exec.env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or(crate::plan::CELL_PATH);
        match path.split(':').map(|d| std::path::Path::new(d).join(&msg.exec.program)).find(|p| p.is_file()) {
            Some(found) => msg.exec.program = found,
            None => {
                return Err((127, format!("{}: not found in the image's PATH ({path})", msg.exec.program.display())))
            }
        }
    }
    // Rules for trees this image does not have would fail to install; dropping them only
    // narrows what the server may reach.
    msg.landlock.read_exec.retain(|p| p.exists());
    msg.landlock.read_write.retain(|p| p.exists());
    msg.landlock.devices.retain(|p| p.exists());
    require_no_capabilities().map_err(fail("capabilities"))?;
    check_grants(&msg.grants).map_err(fail("grants"))?;
    let exec = crate::jail::process::ExecArgs::new(&msg.exec).map_err(fail("exec arguments"))?;
    let filters = crate::jail::seccomp::prepare(&SeccompPolicy::default_deny()).map_err(fail("seccomp"))?;

    let mut signals = SigSet::empty();
    signals.add(Signal::SIGCHLD);
    for s in crate::supervise::FORWARDED {
        signals.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)
        .map_err(|e| fail("blocking signals")(e.to_string()))?;
    if let Some(allow) = &msg.egress {
        start_netd(allow, msg.landlock.min_abi, &filters).map_err(fail("egress (netd)"))?;
    }
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail("pipe")(e.to_string()))?;

    // SAFETY: the init is single-threaded; the child only runs the server steps and execs.
    let server = match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(err_r);
            let (code, message) = server(&msg, &exec, &filters);
            let text = format!("{code}\t{message}");
            // SAFETY: writing a buffer we own to the error pipe, then exiting without running
            // the init's destructors.
            unsafe {
                libc::write(std::os::fd::AsRawFd::as_raw_fd(&err_w), text.as_ptr().cast(), text.len());
                libc::_exit(code)
            }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => child,
        Err(e) => return Err(fail("fork the server")(e.to_string())),
    };
    drop(err_w);
    let mut report = String::new();
    let _ = std::io::Read::read_to_string(&mut std::fs::File::from(err_r), &mut report);
    if let Some((code, message)) = report.split_once('\t') {
        let _ = waitpid(server, None);
        return Err((code.parse().unwrap_or(125), message.to_string()));
    }
    supervise(server, &signals, Duration::from_millis(msg.grace_ms)).map_err(|e| fail("supervising")(e.to_string()))
}

/// Bind the DNS stub and forwarders (the container may bind low ports: the engine was asked
/// for `net.ipv4.ip_unprivileged_port_start=0` in its network namespace), connect to the
/// launcher's egress proxy, then fork netd, which hardens itself before serving.
fn start_netd(
    allow: &crate::egress::EgressAllowlist,
    min_abi: u8,
    filters: &crate::jail::seccomp::CompiledFilters,
) -> Result<(), String> {
    use crate::egress::netd;
    use crate::jail::process;
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let sockets = netd::NetdSockets::bind(allow).map_err(|e| format!("binding the DNS stub and forwarders: {e}"))?;
    let control = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| format!("socket: {e}"))?;
    let addr = UnixAddr::new(EGRESS_SOCKET).map_err(|e| format!("{EGRESS_SOCKET}: {e}"))?;
    connect(std::os::fd::AsRawFd::as_raw_fd(&control), &addr)
        .map_err(|e| format!("connecting to the launcher's egress proxy at {EGRESS_SOCKET}: {e}"))?;
    // SAFETY: the init is single-threaded; the child hardens itself and serves, never returning.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let mut keep = sockets.raw_fds();
            keep.extend([std::os::fd::AsRawFd::as_raw_fd(&control), 2]);
            let nothing = crate::plan::LandlockPlan::nothing(min_abi);
            let steps: [(&str, &Step<'_>); 5] = [
                ("die with the init", &process::die_with_parent),
                ("reset signals", &process::reset_signals),
                ("new session", &process::new_session),
                ("no_new_privs", &process::no_new_privs),
                ("landlock", &|| crate::jail::landlock::restrict(&nothing).map(drop)),
            ];
            for (name, step) in steps {
                if let Err(m) = step() {
                    eprintln!("mcpcell (container init): netd: {name}: {m}");
                    // SAFETY: leaving the forked netd without running the init's destructors.
                    unsafe { libc::_exit(125) }
                }
            }
            if let Err(m) = crate::jail::seccomp::install(filters) {
                eprintln!("mcpcell (container init): netd: seccomp: {m}");
                // SAFETY: as above.
                unsafe { libc::_exit(125) }
            }
            process::close_all_but(&keep);
            netd::run(sockets, crate::egress::NameTable::new(allow.clone()), control)
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => Ok(()),
        Err(e) => Err(format!("fork: {e}")),
    }
}

/// The engine resolved each bind source by name when it started the container: a symlink or a
/// rename racing that (after the launcher resolved the grant) would bind another file. Each
/// grant's mount point must be the very file the launcher resolved (same device and inode: a
/// bind mount shows its source's), else nothing starts.
fn check_grants(grants: &[(std::path::PathBuf, crate::pathfd::FileId)]) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    for (path, want) in grants {
        let found = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if (found.dev(), found.ino()) != (want.dev, want.ino) {
            return Err(format!(
                "{}: the engine bound another file than the one resolved (the path was renamed or replaced by a \
                 symlink while the container started); refusing",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Byte by byte up to the newline: whatever follows belongs to the server.
fn read_init_line() -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(0, &mut byte) {
            Ok(0) => return Err("stdin closed before the plan arrived".into()),
            Ok(_) if byte[0] == b'\n' => return Ok(line),
            Ok(_) if line.len() >= MAX_INIT_LINE => return Err("the plan line is too long".into()),
            Ok(_) => line.push(byte[0]),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The engine was asked for `cap_drop ALL`; refuse to go on if any capability is left.
fn require_no_capabilities() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(str::trim)
            .ok_or_else(|| format!("{field} missing from /proc/self/status"))?;
        if u64::from_str_radix(value, 16).map_err(|e| format!("{field}: {e}"))? != 0 {
            return Err(format!("{field} is {value}, expected none: the engine did not drop every capability"));
        }
    }
    Ok(())
}

/// The server's per-process steps, as in the jail (the engine already made the namespaces,
/// dropped capabilities and set no_new_privs). Returns only on failure.
fn server(
    msg: &InitMessage,
    exec: &crate::jail::process::ExecArgs,
    filters: &crate::jail::seccomp::CompiledFilters,
) -> (i32, String) {
    use crate::jail::process;
    let steps: [(&str, &Step<'_>); 7] = [
        ("die with the init", &process::die_with_parent),
        ("reset signals", &process::reset_signals),
        ("new session (no controlling tty)", &process::new_session),
        ("resource limits", &|| process::set_rlimits(&msg.limits)),
        ("working directory", &|| {
            nix::unistd::chdir(&msg.exec.cwd).map_err(|e| format!("{}: {e}", msg.exec.cwd.display()))
        }),
        ("close inherited fds", &process::close_inherited_fds),
        ("no_new_privs", &process::no_new_privs),
    ];
    for (name, step) in steps {
        if let Err(m) = step() {
            return (125, format!("{name}: {m}"));
        }
    }
    if let Err(m) = crate::jail::landlock::restrict(&msg.landlock) {
        return (125, format!("landlock: {m}"));
    }
    if let Err(m) = crate::jail::seccomp::install(filters) {
        return (125, format!("seccomp: {m}"));
    }
    exec.exec()
}

/// pid 1: forward signals, watch stdin for hang-up, reap, mirror the server's status.
fn supervise(server: Pid, signals: &SigSet, grace: Duration) -> nix::Result<i32> {
    let sfd = SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    // SAFETY: fd 0 stays open for the life of the init.
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let mut watch_stdin = true;
    let mut escalation = crate::supervise::Escalation::new(grace);
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == server => return Ok(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == server => return Ok(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let timeout = escalation.timeout();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if watch_stdin {
            fds.push(PollFd::new(stdin, PollFlags::from_bits_retain(libc::POLLRDHUP)));
        }
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let sig_ready = fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        let hup = watch_stdin
            && fds.get(1).and_then(|f| f.revents()).is_some_and(|r| {
                r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::from_bits_retain(libc::POLLRDHUP))
            });
        drop(fds);
        if sig_ready {
            while let Some(info) = sfd.read_signal()? {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
                if sig != Signal::SIGCHLD {
                    let _ = kill(server, sig);
                    escalation.on_signal(sig);
                }
            }
        }
        if hup {
            watch_stdin = false;
            escalation.on_hangup();
        }
        if let Some(sig) = escalation.due() {
            let _ = kill(server, sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_grant_that_is_not_the_resolved_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("mcpcell-init-grants-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        let id = |p: &str| {
            let m = std::fs::metadata(dir.join(p)).unwrap();
            crate::pathfd::FileId { dev: m.dev(), ino: m.ino() }
        };
        assert!(check_grants(&[(dir.join("a"), id("a")), (dir.join("b"), id("b"))]).is_ok());
        let err = check_grants(&[(dir.join("a"), id("b"))]).expect_err("another file at the grant");
        assert!(err.contains(&dir.join("a").display().to_string()) && err.contains("refusing"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
