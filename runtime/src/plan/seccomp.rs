//! The seccomp policy as data: which syscalls the server may not make, and under which
//! argument conditions. Compiled to BPF by `jail::seccomp` (seccompiler), one rule per entry.
//!
//! Everything else is allowed: this is a deny list of escape-enabling kernel surface on top of
//! namespaces + Landlock, not a full allow list (MCP servers run arbitrary runtimes).

/// When a listed syscall is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgMatch {
    /// Always.
    Always,
    /// When `arg[index] & mask != 0` (e.g. namespace flags of clone/unshare).
    AnyBitsSet { index: u8, mask: u64 },
    /// When the low 32 bits of `arg[index]` equal one of `values` (ioctl request numbers are
    /// `unsigned int`: the kernel ignores the upper half, so must we, or 0x1_0000_5412 would
    /// slip past a 64-bit comparison).
    Low32Equals { index: u8, values: Vec<u64> },
    /// When the low 32 bits of `arg[index]` are none of `values` (personality: only the
    /// default persona and the query are allowed).
    Low32NotIn { index: u8, values: Vec<u64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedSyscall {
    pub name: &'static str,
    pub nr: i64,
    pub when: ArgMatch,
    /// Why it is denied, for `explain --verbose` and reviewers.
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompPolicy {
    /// Denied with EPERM.
    pub deny: Vec<DeniedSyscall>,
    /// Answered with ENOSYS so libc falls back to a variant we can inspect (clone3 → clone).
    pub enosys: Vec<(&'static str, i64)>,
    /// Deny x32 syscall numbers (same audit arch as x86_64, so the arch check alone misses
    /// them). Foreign architectures (i386 `int 0x80`) kill the process.
    pub deny_x32: bool,
}

const CLONE_NS_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;
/// unshare also takes CLONE_NEWTIME (0x80), which in clone() is part of the exit signal.
const UNSHARE_NS_FLAGS: u64 = CLONE_NS_FLAGS | 0x80;

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
/// personality(2): PER_LINUX and the query value 0xffffffff.
const PERSONALITY_ALLOWED: [u64; 2] = [0, 0xffff_ffff];

/// `deny!(SYS_name, when, why)`: the syscall number from libc, the name without `SYS_`.
macro_rules! deny {
    ($sys:ident, $when:expr, $why:literal) => {
        DeniedSyscall { name: &stringify!($sys)[4..], nr: libc::$sys, when: $when, why: $why }
    };
}

impl SeccompPolicy {
    /// The policy every cell gets.
    pub fn default_deny() -> Self {
        use ArgMatch::*;
        let deny = vec![
            // Reaching into other processes.
            deny!(SYS_ptrace, Always, "debugging other processes (and escaping seccomp through them)"),
            deny!(SYS_process_vm_readv, Always, "reading another process's memory"),
            deny!(SYS_process_vm_writev, Always, "writing another process's memory"),
            deny!(SYS_process_madvise, Always, "acting on another process's memory"),
            deny!(SYS_pidfd_getfd, Always, "stealing another process's file descriptors"),
            deny!(SYS_kcmp, Always, "probing other processes' kernel objects"),
            // Reshaping the filesystem view.
            deny!(SYS_mount, Always, "mounting"),
            deny!(SYS_umount2, Always, "unmounting (uncovering what the cell hides)"),
            deny!(SYS_pivot_root, Always, "changing the root"),
            deny!(SYS_chroot, Always, "changing the root"),
            deny!(SYS_move_mount, Always, "new mount API"),
            deny!(SYS_open_tree, Always, "new mount API"),
            deny!(SYS_fsopen, Always, "new mount API"),
            deny!(SYS_fsconfig, Always, "new mount API"),
            deny!(SYS_fsmount, Always, "new mount API"),
            deny!(SYS_fspick, Always, "new mount API"),
            deny!(SYS_mount_setattr, Always, "new mount API"),
            deny!(SYS_open_by_handle_at, Always, "opening files by handle, bypassing the mount tree"),
            deny!(SYS_name_to_handle_at, Always, "file handles (pair of open_by_handle_at)"),
            // New namespaces: fresh privileges and more kernel attack surface.
            deny!(SYS_unshare, AnyBitsSet { index: 0, mask: UNSHARE_NS_FLAGS }, "creating namespaces"),
            deny!(SYS_clone, AnyBitsSet { index: 0, mask: CLONE_NS_FLAGS }, "creating namespaces"),
            deny!(SYS_setns, Always, "joining namespaces"),
            // Kernel surface with a history of privilege escalations.
            deny!(SYS_keyctl, Always, "kernel keyrings (shared across the host user)"),
            deny!(SYS_add_key, Always, "kernel keyrings"),
            deny!(SYS_request_key, Always, "kernel keyrings"),
            deny!(SYS_bpf, Always, "eBPF"),
            deny!(SYS_perf_event_open, Always, "perf events"),
            deny!(SYS_io_uring_setup, Always, "io_uring (bypasses syscall filtering)"),
            deny!(SYS_io_uring_enter, Always, "io_uring"),
            deny!(SYS_io_uring_register, Always, "io_uring"),
            deny!(SYS_userfaultfd, Always, "userfaultfd (race amplification in exploits)"),
            deny!(SYS_kexec_load, Always, "loading a kernel"),
            deny!(SYS_kexec_file_load, Always, "loading a kernel"),
            deny!(SYS_init_module, Always, "loading kernel modules"),
            deny!(SYS_finit_module, Always, "loading kernel modules"),
            deny!(SYS_delete_module, Always, "unloading kernel modules"),
            deny!(SYS_reboot, Always, "rebooting"),
            deny!(SYS_swapon, Always, "swap control"),
            deny!(SYS_swapoff, Always, "swap control"),
            deny!(SYS_acct, Always, "process accounting"),
            deny!(SYS_quotactl, Always, "quota control"),
            deny!(SYS_syslog, Always, "the kernel log"),
            deny!(SYS_fanotify_init, Always, "watching the whole filesystem"),
            deny!(SYS_lookup_dcookie, Always, "kernel profiling"),
            deny!(SYS_vhangup, Always, "hanging up terminals"),
            deny!(
                SYS_personality,
                Low32NotIn { index: 0, values: PERSONALITY_ALLOWED.to_vec() },
                "personality flags such as ADDR_NO_RANDOMIZE"
            ),
            // Terminal injection: pushing keystrokes into the user's shell.
            deny!(
                SYS_ioctl,
                Low32Equals { index: 1, values: vec![TIOCSTI, TIOCLINUX] },
                "TIOCSTI/TIOCLINUX terminal injection"
            ),
        ];
        SeccompPolicy { deny, enosys: vec![("clone3", libc::SYS_clone3)], deny_x32: true }
    }
}
