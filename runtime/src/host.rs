//! What this host supports, for `doctor` and for the checks made before a cell is built.

use crate::error::RuntimeError;
use crate::jail::CgroupHost;
use crate::plan::CellPlan;
use serde::Serialize;

/// One probed feature.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Probe {
    pub available: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub kernel: String,
    pub arch: &'static str,
    pub running_as_root: bool,
    /// Landlock ABI version, None when Landlock is unavailable.
    pub landlock_abi: Option<u8>,
    pub landlock: Probe,
    pub user_namespaces: Probe,
    pub seccomp: Probe,
    pub cgroup_pids: Probe,
    pub cgroup_memory: Probe,
    pub egress: Probe,
    pub container_engine: Probe,
    /// The engine's details, when one answers.
    pub engine: Option<crate::container::engine::EngineInfo>,
    /// What a profile that does not choose would be best run with: "jail", else "container"
    /// when an engine answers, or null when neither can build a cell here.
    pub backend: Option<&'static str>,
}

pub fn report() -> HostReport {
    let abi = landlock_abi();
    let userns = probe_user_namespaces();
    let seccomp = probe_seccomp();
    let cg = CgroupHost::detect();
    let (pids, memory) = cg.writable_limits();
    let root = nix::unistd::geteuid().is_root();
    let path_probe = |p: Option<std::path::PathBuf>, what: &str| match p {
        Some(dir) => Probe { available: true, detail: format!("{what} limits in {}", dir.display()) },
        None => Probe { available: false, detail: format!("no writable cgroup with the {what} controller") },
    };
    let pids_probe = path_probe(pids, "pids");
    let jail_ok = userns.available && seccomp.available && (pids_probe.available || !root);
    let engine = crate::container::engine::probe();
    let engine_ok = engine.is_ok();
    HostReport {
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into()),
        arch: std::env::consts::ARCH,
        running_as_root: root,
        landlock_abi: abi,
        landlock: match abi {
            Some(v) => Probe { available: true, detail: format!("ABI {v}{}", landlock_features(v)) },
            None => Probe {
                available: false,
                detail: "not enabled in this kernel (CONFIG_SECURITY_LANDLOCK and lsm=...,landlock)".into(),
            },
        },
        user_namespaces: userns,
        seccomp,
        cgroup_pids: pids_probe,
        cgroup_memory: path_probe(memory, "memory"),
        // Egress needs nothing beyond the jail: a network namespace, loopback, a unix socket.
        egress: Probe {
            available: jail_ok,
            detail: if jail_ok {
                "by hostname: in-cell DNS stub + forwarder, host-side proxy".into()
            } else {
                "needs the jail (see above)".into()
            },
        },
        container_engine: match &engine {
            Ok(e) => Probe {
                available: true,
                detail: format!(
                    "{} {} (API {}) at {}; {}; user namespaces {}",
                    e.name,
                    e.version,
                    e.api_version,
                    e.endpoint,
                    if e.rootless { "rootless" } else { "rootful" },
                    if e.userns_remap { "remapped" } else { "not remapped" }
                ),
            },
            Err(why) => Probe { available: false, detail: why.clone() },
        },
        engine: engine.ok(),
        backend: if jail_ok {
            Some("jail")
        } else if engine_ok {
            Some("container")
        } else {
            None
        },
    }
}

fn landlock_features(abi: u8) -> &'static str {
    match abi {
        0..=3 => ": filesystem rules",
        4..=5 => ": filesystem + TCP rules",
        _ => ": filesystem + TCP rules + signal/abstract-socket scoping",
    }
}

/// The Landlock ABI version the kernel offers.
pub fn landlock_abi() -> Option<u8> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attr, size 0 and the VERSION flag, the syscall only returns a number.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u8::try_from(v).ok().filter(|v| *v > 0)
}

/// Can this process create a user namespace? Tried for real in a short-lived child.
pub fn probe_user_namespaces() -> Probe {
    // SAFETY: the child only calls unshare and _exit.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET;
            // SAFETY: unshare and _exit in the forked child.
            unsafe { libc::_exit(if libc::unshare(flags) == 0 { 0 } else { *libc::__errno_location() }) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => {
                Probe { available: true, detail: "unprivileged user, mount and network namespaces work".into() }
            }
            Ok(nix::sys::wait::WaitStatus::Exited(_, errno)) => Probe {
                available: false,
                detail: format!(
                    "unshare(CLONE_NEWUSER) failed: {}; enable unprivileged user namespaces (Debian: sysctl kernel.unprivileged_userns_clone=1; Ubuntu 24.04+: kernel.apparmor_restrict_unprivileged_userns=0)",
                    nix::Error::from_raw(errno)
                ),
            },
            other => Probe { available: false, detail: format!("probe failed: {other:?}") },
        },
        Err(e) => Probe { available: false, detail: format!("fork failed: {e}") },
    }
}

fn probe_seccomp() -> Probe {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if status.lines().any(|l| l.starts_with("Seccomp_filters:")) || status.lines().any(|l| l.starts_with("Seccomp:")) {
        Probe { available: true, detail: "seccomp-bpf filters".into() }
    } else {
        Probe { available: false, detail: "this kernel has no seccomp (CONFIG_SECCOMP_FILTER)".into() }
    }
}

/// Refuse to build a cell the host cannot enforce as the plan requires.
pub fn require(plan: &CellPlan) -> Result<(), RuntimeError> {
    let min = plan.landlock.min_abi;
    if min > 0 {
        match landlock_abi() {
            Some(v) if v >= min => {}
            found => {
                return Err(RuntimeError::HostUnsupported {
                    feature: "Landlock",
                    why: match found {
                        Some(v) => format!("the profile requires ABI >= {min}, this kernel offers ABI {v}"),
                        None => format!("the profile requires ABI >= {min}, this kernel has no Landlock"),
                    },
                    fix: "Use a kernel with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter, \
                          or lower [sandbox] landlock_min_abi in the profile (0 makes Landlock optional)",
                });
            }
        }
    }
    Ok(())
}
