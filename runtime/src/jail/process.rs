//! Per-process hardening of the server, each step one function, applied in `jail::server`.

use crate::plan::{ExecPlan, LimitsPlan, Rlimit};
use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use std::ffi::CString;

type StepResult = Result<(), String>;

/// Default dispositions and an empty mask: the launcher blocks and ignores signals (Rust
/// ignores SIGPIPE), and exec keeps ignored dispositions — the server must start clean.
pub fn reset_signals() -> StepResult {
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code in this process.
        unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }.map_err(|e| format!("resetting {sig}: {e}"))?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(|e| format!("sigprocmask: {e}"))
}

/// Put the given fds at 0, 1, 2 (nothing to do when the server inherits the launcher's).
pub fn install_stdio(fds: Option<[i32; 3]>) -> StepResult {
    let Some(fds) = fds else { return Ok(()) };
    for (target, fd) in fds.into_iter().enumerate() {
        // SAFETY: dup2 on fds this process holds; the targets are the standard fds.
        if fd != target as i32 && unsafe { libc::dup2(fd, target as i32) } < 0 {
            return Err(format!("dup2 to fd {target}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// A new session without a controlling terminal: TIOCSTI-style injection needs one.
pub fn new_session() -> StepResult {
    nix::unistd::setsid().map(drop).map_err(|e| format!("setsid: {e}"))
}

pub fn set_rlimits(limits: &LimitsPlan) -> StepResult {
    for (which, value) in &limits.rlimits {
        let resource = match which {
            Rlimit::Core => libc::RLIMIT_CORE,
            Rlimit::Cpu => libc::RLIMIT_CPU,
            Rlimit::Data => libc::RLIMIT_DATA,
            Rlimit::FileSize => libc::RLIMIT_FSIZE,
            Rlimit::NoFile => libc::RLIMIT_NOFILE,
            Rlimit::NProc => libc::RLIMIT_NPROC,
        };
        let lim = libc::rlimit { rlim_cur: *value, rlim_max: *value };
        // SAFETY: setrlimit reads a valid rlimit struct.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(format!("setrlimit {} = {value}: {}", which.name(), std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Mark every fd above stderr close-on-exec: the server inherits exactly 0, 1 and 2 (our own
/// error pipe stays usable until exec succeeds, then closes by itself).
pub fn close_inherited_fds() -> StepResult {
    // SAFETY: close_range only changes fd flags in this process.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("close_range: {}", std::io::Error::last_os_error()))
    }
}

/// Close every fd but `keep` (for netd, which does not exec, so close-on-exec is not enough).
pub fn close_all_but(keep: &[i32]) {
    let mut keep: Vec<u32> = keep.iter().filter_map(|fd| u32::try_from(*fd).ok()).collect();
    keep.sort_unstable();
    let mut from = 0u32;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > from {
            // SAFETY: close_range only closes fds of this process; the kept ones are skipped.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0u32) };
        }
        from = fd.saturating_add(1);
    }
}

/// Drop every capability for good: the bounding set, ambient, and the effective/permitted/
/// inheritable sets, with securebits locked so that uid 0 in the cell never regains any on
/// exec. The server keeps its uid, not its privileges.
pub fn drop_capabilities() -> StepResult {
    let prctl = |op: libc::c_int, arg: libc::c_ulong, what: &str| -> StepResult {
        // SAFETY: these prctl operations take integer arguments only.
        if unsafe { libc::prctl(op, arg, 0, 0, 0) } != 0 {
            return Err(format!("{what}: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    };
    let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<libc::c_ulong>().ok())
        .unwrap_or(63);
    for cap in 0..=last_cap {
        prctl(libc::PR_CAPBSET_DROP, cap, "dropping the capability bounding set")?;
    }
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, "clearing ambient capabilities")?;
    let bits = libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_SETUID_FIXUP
        | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
        | libc::SECBIT_KEEP_CAPS_LOCKED
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    prctl(libc::PR_SET_SECUREBITS, bits as libc::c_ulong, "locking securebits")?;

    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: capset reads a v3 header and two data structs, as laid out above.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

pub fn no_new_privs() -> StepResult {
    // SAFETY: integer-only prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Die when the parent dies (the parent of the cell's init is the launcher; of the server,
/// the init).
pub fn die_with_parent() -> StepResult {
    // SAFETY: integer-only prctl.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_PDEATHSIG: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Prepared before the fork so the child does no fallible string work before exec.
pub struct ExecArgs {
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

impl ExecArgs {
    pub fn new(plan: &ExecPlan) -> Result<Self, String> {
        let c = |s: &str, what: &str| CString::new(s).map_err(|_| format!("{what} contains a NUL byte"));
        Ok(ExecArgs {
            program: CString::new(plan.program.as_os_str().as_encoded_bytes())
                .map_err(|_| "program path contains a NUL byte".to_string())?,
            argv: plan.argv.iter().map(|a| c(a, "an argument")).collect::<Result<_, _>>()?,
            env: plan
                .env
                .iter()
                .map(|(k, v)| CString::new(format!("{k}={v}")).map_err(|_| format!("env {k} contains a NUL byte")))
                .collect::<Result<_, _>>()?,
        })
    }

    /// execve; returns only on failure, with the exit code to use (126 / 127).
    pub fn exec(&self) -> (i32, String) {
        let err = match nix::unistd::execve(&self.program, &self.argv, &self.env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        let code = if err == nix::Error::ENOENT { 127 } else { 126 };
        (code, format!("exec {}: {err}", self.program.to_string_lossy()))
    }
}
