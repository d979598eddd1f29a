//! The launcher's side of a running cell: forward signals, notice the client closing stdin,
//! escalate (SIGTERM, then SIGKILL after the grace period), and return the server's status.
//!
//! The server gets the client's stdio fds directly (zero-copy: nothing to relay when nothing
//! inspects the stream), so "stdin EOF" is observed by polling our copy of fd 0 for hang-up
//! without reading from it.

use crate::jail::Cell;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{fstat, SFlag};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Signals the launcher forwards to the cell.
pub const FORWARDED: [Signal; 6] =
    [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

/// Block the forwarded signals and SIGCHLD before the cell starts, so none is lost (or kills
/// the launcher by default action) while the cell is being built. Returns the set.
pub fn block_signals() -> nix::Result<SigSet> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    Ok(set)
}

/// The shutdown sequence, shared by the launcher and the container's init: a forwarded
/// SIGTERM/SIGINT/SIGHUP gets the grace period before SIGKILL; stdin hanging up gets the grace
/// period before SIGTERM, then again before SIGKILL.
#[derive(Debug)]
pub struct Escalation {
    grace: Duration,
    next: Option<(Instant, Signal)>,
}

impl Escalation {
    pub fn new(grace: Duration) -> Self {
        Escalation { grace, next: None }
    }

    /// A signal was forwarded to the server.
    pub fn on_signal(&mut self, sig: Signal) {
        if self.next.is_none() && matches!(sig, Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) {
            self.next = Some((Instant::now() + self.grace, Signal::SIGKILL));
        }
    }

    /// The client closed stdin: the server sees EOF itself and gets the grace period.
    pub fn on_hangup(&mut self) {
        if self.next.is_none() {
            self.next = Some((Instant::now() + self.grace, Signal::SIGTERM));
        }
    }

    /// How long to wait for events before the next step is due.
    pub fn timeout(&self) -> PollTimeout {
        match self.next {
            Some((at, _)) => {
                PollTimeout::try_from(at.saturating_duration_since(Instant::now())).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        }
    }

    /// The signal to send now, if a step is due (and the countdown to the one after it).
    pub fn due(&mut self) -> Option<Signal> {
        let (at, sig) = self.next?;
        if Instant::now() < at {
            return None;
        }
        self.next = (sig == Signal::SIGTERM).then(|| (Instant::now() + self.grace, Signal::SIGKILL));
        Some(sig)
    }
}

/// Supervise until the cell's init exits; returns the exit code to mirror.
pub fn supervise(cell: Cell, signals: SigSet, grace: Duration) -> nix::Result<i32> {
    let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let stdin = std::io::stdin();
    let mut watch_stdin = stdin_can_hang_up(stdin.as_fd());
    let mut escalation = Escalation::new(grace);

    loop {
        if let Some(code) = reap(cell.init)? {
            return Ok(code);
        }
        let timeout = escalation.timeout();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if watch_stdin {
            fds.push(PollFd::new(stdin.as_fd(), rdhup()));
        }
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let sig_ready = fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        let stdin_hup = watch_stdin
            && fds[1].revents().is_some_and(|r| r.intersects(PollFlags::POLLHUP | rdhup() | PollFlags::POLLERR));
        drop(fds);

        if sig_ready {
            while let Some(info) = sfd.read_signal()? {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else { continue };
                if sig == Signal::SIGCHLD {
                    continue; // reaped at the top of the loop
                }
                tracing::debug!(signal = %sig, "forwarding signal to the cell");
                let _ = kill(cell.init, sig);
                escalation.on_signal(sig);
            }
        }
        if stdin_hup {
            // The client closed its end: the server sees EOF itself; give it the grace period
            // to finish, then SIGTERM, then SIGKILL (the MCP stdio shutdown sequence).
            tracing::debug!("stdin closed by the client");
            watch_stdin = false;
            escalation.on_hangup();
        }
        if let Some(sig) = escalation.due() {
            tracing::debug!(signal = %sig, "grace period over");
            let _ = kill(cell.init, sig);
        }
    }
}

fn reap(init: nix::unistd::Pid) -> nix::Result<Option<i32>> {
    match waitpid(init, Some(WaitPidFlag::WNOHANG))? {
        WaitStatus::Exited(_, code) => Ok(Some(code)),
        WaitStatus::Signaled(_, sig, _) => Ok(Some(128 + sig as i32)),
        _ => Ok(None),
    }
}

/// Only pipes and sockets report the client closing them; a file or a tty never "hangs up".
fn stdin_can_hang_up(fd: BorrowedFd<'_>) -> bool {
    match fstat(fd.as_raw_fd()) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            kind == SFlag::S_IFIFO || kind == SFlag::S_IFSOCK
        }
        Err(_) => false,
    }
}

/// POLLRDHUP: a socket peer shut down its writing side (pipes report POLLHUP instead).
fn rdhup() -> PollFlags {
    PollFlags::from_bits_retain(libc::POLLRDHUP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hangup_escalates_to_sigterm_then_sigkill() {
        let mut e = Escalation::new(Duration::ZERO);
        assert_eq!(e.due(), None, "nothing before an event");
        e.on_hangup();
        assert_eq!(e.due(), Some(Signal::SIGTERM));
        assert_eq!(e.due(), Some(Signal::SIGKILL));
        assert_eq!(e.due(), None, "nothing after SIGKILL");
    }

    #[test]
    fn a_forwarded_termination_signal_leads_to_sigkill_only() {
        let mut e = Escalation::new(Duration::ZERO);
        e.on_signal(Signal::SIGUSR1);
        assert_eq!(e.due(), None, "SIGUSR1 starts no countdown");
        e.on_signal(Signal::SIGINT);
        e.on_hangup(); // a countdown already runs: no second one
        assert_eq!(e.due(), Some(Signal::SIGKILL));
        assert_eq!(e.due(), None);
    }

    #[test]
    fn nothing_is_due_within_the_grace_period() {
        let mut e = Escalation::new(Duration::from_secs(3600));
        assert_eq!(e.timeout(), PollTimeout::NONE, "no deadline: wait for events");
        e.on_hangup();
        assert_eq!(e.due(), None);
        assert_ne!(e.timeout(), PollTimeout::NONE);
    }
}
