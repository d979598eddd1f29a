//! Applying a [`LandlockPlan`] to the server process, just before exec (the process is
//! single-threaded there, so restricting the calling thread restricts the whole server).

use crate::plan::LandlockPlan;
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// The newest ABI this build knows; the kernel's own ABI caps what is enforced (best effort
/// above the profile's `landlock_min_abi`, which `host::require` checked before the fork).
const TARGET_ABI: ABI = ABI::V7;

/// Install the ruleset. Returns whether the kernel enforced it fully, partially or not at all.
pub fn restrict(plan: &LandlockPlan) -> Result<RulesetStatus, String> {
    let abi = TARGET_ABI;
    let devices = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| format!("landlock fs rights: {e}"))?
        .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
        .map_err(|e| format!("landlock net rights: {e}"))?;
    if plan.scope_signals {
        ruleset = ruleset.scope(Scope::Signal).map_err(|e| format!("landlock signal scope: {e}"))?;
    }
    if plan.scope_abstract_unix {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket).map_err(|e| format!("landlock abstract unix scope: {e}"))?;
    }
    let created = ruleset
        .create()
        .map_err(|e| format!("landlock_create_ruleset: {e}"))?
        // Listing directories anywhere in the cell reveals nothing: the cell's tree holds only
        // what the mount plan put there.
        .add_rules(path_beneath_rules(["/"], AccessFs::ReadDir))
        .map_err(|e| format!("landlock root rule: {e}"))?
        .add_rules(path_beneath_rules(&plan.read_exec, AccessFs::from_read(abi)))
        .map_err(|e| format!("landlock read rule: {e}"))?
        .add_rules(path_beneath_rules(&plan.read_write, AccessFs::from_all(abi)))
        .map_err(|e| format!("landlock write rule: {e}"))?
        .add_rules(path_beneath_rules(&plan.devices, devices))
        .map_err(|e| format!("landlock device rule: {e}"))?
        .add_rules(
            plan.tcp_connect.iter().map(|p| Ok::<_, landlock::RulesetError>(NetPort::new(*p, AccessNet::ConnectTcp))),
        )
        .map_err(|e| format!("landlock tcp connect rule: {e}"))?
        .add_rules(plan.tcp_bind.iter().map(|p| Ok::<_, landlock::RulesetError>(NetPort::new(*p, AccessNet::BindTcp))))
        .map_err(|e| format!("landlock tcp bind rule: {e}"))?;
    let status = created.restrict_self().map_err(|e| format!("landlock_restrict_self: {e}"))?;
    Ok(status.ruleset)
}
