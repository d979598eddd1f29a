//! Compiling the [`SeccompPolicy`] to BPF and installing it (seccompiler for the rules, plus a
//! small hand-written guard for what seccompiler cannot express: x32 numbers and ENOSYS).

use crate::plan::{ArgMatch, SeccompPolicy};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Compile the deny list. The filter's arch check kills a process that enters the kernel
/// through a foreign ABI (i386 `int 0x80` on x86_64), since none of our rules would apply.
pub fn compile(policy: &SeccompPolicy) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for entry in &policy.deny {
        let fail = |e: seccompiler::BackendError| format!("seccomp rule for {}: {e}", entry.name);
        let cond = |index: u8, len, op, value| SeccompCondition::new(index, len, op, value).map_err(fail);
        let rule = |conds: Vec<SeccompCondition>| SeccompRule::new(conds).map_err(fail);
        let new_rules = match &entry.when {
            ArgMatch::Always => Vec::new(), // an empty rule list matches unconditionally
            ArgMatch::AnyBitsSet { index, mask } => (0..64)
                .map(|bit| 1u64 << bit)
                .filter(|b| mask & b != 0)
                .map(|b| rule(vec![cond(*index, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(b), b)?]))
                .collect::<Result<Vec<_>, String>>()?,
            ArgMatch::Low32Equals { index, values } => values
                .iter()
                .map(|v| rule(vec![cond(*index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, *v)?]))
                .collect::<Result<Vec<_>, String>>()?,
            ArgMatch::Low32NotIn { index, values } => {
                let conds = values
                    .iter()
                    .map(|v| cond(*index, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, *v))
                    .collect::<Result<Vec<_>, String>>()?;
                vec![rule(conds)?]
            }
        };
        rules.insert(entry.nr, new_rules);
    }
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), ARCH)
        .map_err(|e| format!("seccomp filter: {e}"))?;
    filter.try_into().map_err(|e: seccompiler::BackendError| format!("seccomp compile: {e}"))
}

/// The guard: x32 syscall numbers get EPERM, listed syscalls get ENOSYS.
pub fn guard(policy: &SeccompPolicy) -> BpfProgram {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let stmt = |code: u32, k: u32| seccompiler::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| seccompiler::sock_filter { code: code as u16, jt, jf, k };
    const NR_OFFSET: u32 = 0; // offsetof(struct seccomp_data, nr)
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA);
    let mut prog = vec![stmt(BPF_LD | BPF_W | BPF_ABS, NR_OFFSET)];
    if policy.deny_x32 && cfg!(target_arch = "x86_64") {
        // nr >= __X32_SYSCALL_BIT → EPERM
        prog.push(jump(BPF_JMP | BPF_JGE | BPF_K, 0x4000_0000, 0, 1));
        prog.push(stmt(BPF_RET | BPF_K, errno(libc::EPERM)));
    }
    for (_, nr) in &policy.enosys {
        prog.push(jump(BPF_JMP | BPF_JEQ | BPF_K, *nr as u32, 0, 1));
        prog.push(stmt(BPF_RET | BPF_K, errno(libc::ENOSYS)));
    }
    prog.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
    prog
}

/// Both filters, compiled in the launcher before the fork (the child only installs them).
pub struct CompiledFilters {
    guard: BpfProgram,
    deny: BpfProgram,
}

pub fn prepare(policy: &SeccompPolicy) -> Result<CompiledFilters, String> {
    Ok(CompiledFilters { guard: guard(policy), deny: compile(policy)? })
}

/// Install both filters on the calling thread (no_new_privs must already be set).
pub fn install(filters: &CompiledFilters) -> Result<(), String> {
    // The deny filter last, so it runs first: its arch check runs before the guard reads the
    // syscall number (seccomp runs the most recently installed filter first; every filter runs).
    seccompiler::apply_filter(&filters.guard).map_err(|e| format!("seccomp guard: {e}"))?;
    seccompiler::apply_filter(&filters.deny).map_err(|e| format!("seccomp deny list: {e}"))
}
