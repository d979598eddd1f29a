//! `explain`: what a cell will allow, in plain words. Built from the profile and, when it
//! could be built, the plan (so what is shown is what will be enforced). Never shows secret
//! values: only their names and sources.

use crate::host::HostReport;
use crate::plan::{CellPlan, MountOp};
use crate::RuntimeError;
use mcpcell_profiles::{Profile, Secret, SecretDelivery, SecretSource};
use std::fmt;

pub struct Explanation {
    pub sections: Vec<(String, Vec<String>)>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (title, lines)) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{title}")?;
            for line in lines {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// The `Package` section: what `[server] package` is pinned to and whether the cache matches.
pub fn package_section(r: &crate::packages::PackageReport) -> (String, Vec<String>) {
    use crate::packages::PackageStatus;
    let mut lines = vec![format!("requested: {}", r.requested)];
    match &r.locked {
        Some(lp) => {
            lines.push(format!("pinned: {} {} (lockfile {})", lp.source, lp.version, r.lock_path.display()));
            lines.push(format!("registry integrity: {}", lp.integrity));
            let deps = lp.npm_packages.as_ref().map_or_else(
                || lp.pypi_dists.as_ref().map_or(0, |d| d.len().saturating_sub(1)),
                |p| p.keys().filter(|k| !k.is_empty()).count().saturating_sub(1),
            );
            lines.push(format!("dependencies pinned with their integrity: {deps}"));
            lines.push(format!("entry point: {} ({})", lp.entry.name, lp.entry.target));
            lines.push(format!("installed tree sha256: {}", lp.tree_sha256));
            lines.push(format!(
                "install scripts: {}",
                if lp.install_scripts { "ran at install, inside a cell with no network" } else { "not run" }
            ));
        }
        None => lines.push(format!(
            "not pinned yet: the first `mcpcell run` or `mcpcell install` resolves it, installs it and writes the pin to {}",
            r.lock_path.display()
        )),
    }
    lines.push(match &r.status {
        PackageStatus::Verified => "cache: installed, matches the lockfile (starts with no network at all)".to_string(),
        PackageStatus::Installed => "cache: installed just now".to_string(),
        PackageStatus::NotInstalled => {
            "cache: not installed; the first start installs it outside the cell (registry access needed once)"
                .to_string()
        }
        PackageStatus::Tampered(path) => {
            format!("cache: MODIFIED since it was installed ({}): `run` refuses to start it", path.display())
        }
    });
    if let Some(tree) = &r.tree {
        lines.push(format!("mounted read-only: {}", tree.display()));
    }
    if let Some(interp) = &r.interpreter {
        match &r.interpreter_mount {
            Some(m) => lines.push(format!("interpreter: {} (mounted read-only: {})", interp.display(), m.display())),
            None => lines.push(format!("interpreter: {} (part of the read-only system directories)", interp.display())),
        }
    }
    lines.push("no registry access at run time: the cell gets only the profile's [network] egress".into());
    ("Package".into(), lines)
}

pub fn explain(profile: &Profile, plan: &Result<CellPlan, RuntimeError>, host: &HostReport) -> Explanation {
    let mut sections = Vec::new();
    let origin = match &profile.origin {
        mcpcell_profiles::Origin::Builtin(n) => format!("built-in profile {n}"),
        mcpcell_profiles::Origin::File(p) => format!("profile file {}", p.display()),
        mcpcell_profiles::Origin::AdHoc => "command-line grants (mcpcell exec)".into(),
    };
    let mut head = vec![format!("from: {origin}")];
    if let Some(d) = &profile.description {
        head.push(d.clone());
    }
    for parent in &profile.extends {
        head.push(format!("extends: {parent:?}"));
    }
    sections.push((format!("Profile {}", profile.name), head));

    let mut server = vec![];
    match plan {
        Ok(p) => {
            server.push(format!("runs: {} (found at {})", shell_words(&p.exec.argv), p.exec.program.display()));
            server.push(format!("working directory: {}", p.exec.cwd.display()));
            let names: Vec<&str> = p.exec.env.iter().map(|(k, _)| k.as_str()).collect();
            server.push(format!("environment (nothing inherited): {}", names.join(", ")));
        }
        Err(_) => match &profile.server.package {
            Some(pkg) => server.push(format!(
                "runs: the entry point of {pkg}{} (once installed: see Package)",
                if profile.server.args.is_empty() {
                    String::new()
                } else {
                    format!(" with arguments {}", shell_words(&profile.server.args))
                }
            )),
            None => {
                let mut argv = vec![profile.server.command.clone()];
                argv.extend(profile.server.args.iter().cloned());
                server.push(format!("runs: {}", shell_words(&argv)));
            }
        },
    }
    sections.push(("Server".into(), server));

    let mut fs = Vec::new();
    match plan {
        Ok(p) => {
            let mut grants = 0;
            for op in &p.mounts.ops {
                if let MountOp::Bind { dest, writable, .. } = op {
                    let system = ["/usr", "/bin", "/sbin", "/lib", "/etc/", "/dev/"]
                        .iter()
                        .any(|s| dest.starts_with(s.trim_end_matches('/')));
                    let secret_files = p.secret_files.as_ref().is_some_and(|f| *dest == f.cell_dir);
                    if secret_files {
                        fs.push(format!("read-only:  {} (the secret files; see Secrets)", dest.display()));
                    } else if !system {
                        grants += 1;
                        fs.push(format!(
                            "{} {}",
                            if *writable { "read-write:" } else { "read-only: " },
                            dest.display()
                        ));
                    }
                }
            }
            if grants == 0 {
                fs.push("no host files or directories are granted".into());
            }
        }
        Err(_) => {
            for g in &profile.filesystem.read {
                fs.push(format!("read-only:  {}{}", g.path.display(), if g.optional { " (optional)" } else { "" }));
            }
            for g in &profile.filesystem.write {
                fs.push(format!("read-write: {}{}", g.path.display(), if g.optional { " (optional)" } else { "" }));
            }
        }
    }
    fs.push(
        "system (read-only): /usr, /bin, /sbin, /lib*, a few /etc entries (TLS roots, loader cache, time zone)".into(),
    );
    fs.push(format!(
        "private, empty, size-limited ({}): /tmp, $HOME, /dev/shm",
        human_bytes(profile.limits.tmpfs_bytes)
    ));
    fs.push("hidden: everything else (~/.ssh, ~/.aws, docker.sock, D-Bus, other users' files, /sys)".into());
    sections.push(("Filesystem".into(), fs));

    let net = if profile.network.egress.is_empty() {
        vec!["no network: only the cell's own loopback; no DNS".into()]
    } else {
        let mut lines: Vec<String> = profile
            .network
            .egress
            .iter()
            .map(|r| format!("may connect to: {}", crate::plan::describe_egress(r)))
            .collect();
        lines.push("by name only, any TCP protocol; DNS answers only these names (nothing is forwarded)".into());
        lines.push(
            "refused: other hosts and ports, raw IPs, UDP, IPv6, a TLS SNI or HTTP Host naming another host".into(),
        );
        if !profile.network.egress.iter().all(|r| r.allow_private) {
            lines.push("refused: names resolving to loopback, private or link-local addresses (cloud metadata), unless the entry allows it".into());
        }
        lines
    };
    sections.push(("Network".into(), net));

    let secrets = if profile.secrets.is_empty() {
        vec!["none".into()]
    } else {
        let mut lines: Vec<String> = profile.secrets.iter().map(explain_secret).collect();
        lines.push("obtained on the host before the cell starts (a failure stops the start; explain itself obtains nothing); redacted if the server sends one back".into());
        if profile.secrets.iter().any(|s| matches!(s.delivery, mcpcell_profiles::SecretDelivery::File { .. })) {
            lines.push(format!(
                "secret files: a private tmpfs directory of mcpcell's (mode 0700, removed at exit), bound read-only at {}",
                crate::secrets::CELL_SECRETS_DIR
            ));
        }
        lines
    };
    sections.push(("Secrets (values never shown)".into(), secrets));

    let t = &profile.tools;
    // What the plan says when it could be built (a lockfile alone turns the relay on, too).
    let relay_on = match plan {
        Ok(p) => p.relay.is_some(),
        Err(_) => t.is_configured() || profile.audit.file.is_some(),
    };
    let relay = if relay_on {
        let mut lines = vec!["stdio goes through mcpcell's MCP-aware relay (not straight to the server)".to_string()];
        if !t.allow.is_empty() {
            lines.push(format!("tools allowed: {}", t.allow.join(", ")));
        }
        if !t.deny.is_empty() {
            lines.push(format!("tools denied (hidden from tools/list, calls refused): {}", t.deny.join(", ")));
        }
        lines.push(format!(
            "tool descriptions: hidden characters stripped; hidden-instruction patterns {}",
            match t.on_poisoned {
                mcpcell_profiles::PoisonAction::Warn => "logged (warn)",
                mcpcell_profiles::PoisonAction::Block => "hide the tool (block)",
            }
        ));
        if !t.confirm.is_empty() {
            lines.push(format!(
                "ask the user first (MCP elicitation; refused if the client cannot ask): {}",
                t.confirm.join(", ")
            ));
        }
        if t.read_only {
            lines.push("only tools annotated readOnlyHint = true".into());
        }
        lines.push(format!(
            "tool pins: {} (lockfile {})",
            match t.pins {
                mcpcell_profiles::PinMode::Block => "new or changed tools are hidden and refused",
                mcpcell_profiles::PinMode::Warn => "changes are logged only (warn)",
                mcpcell_profiles::PinMode::Tofu => "the first tool list is pinned (tofu), then changes are refused",
            },
            match plan {
                Ok(p) if p.lock_path.exists() => p.lock_path.display().to_string(),
                Ok(p) => format!("{}, not written yet: `mcpcell lock`", p.lock_path.display()),
                Err(_) => "?".into(),
            }
        ));
        if let Some(secs) = t.call_timeout_secs {
            lines.push(format!("each tool call: at most {secs} s"));
        }
        if let Some(n) = t.calls_per_minute {
            lines.push(format!("at most {n} tool calls per minute"));
        }
        if let Some(n) = t.tool_calls_per_minute {
            lines.push(format!("at most {n} calls per minute to any one tool"));
        }
        lines.push(format!("largest message: {}", human_bytes(t.max_message_bytes)));
        if let Some(file) = &profile.audit.file {
            lines.push(format!("audit log (JSON lines, argument digests only): {}", file.display()));
        }
        lines
    } else if profile.sandbox.backend == mcpcell_profiles::Backend::Container {
        vec!["none: stdio is relayed byte for byte over the engine's attach connection".into()]
    } else {
        vec!["none: the server gets the client's stdio directly (byte-transparent, zero-copy)".into()]
    };
    sections.push(("MCP inspection".into(), relay));

    let l = &profile.limits;
    sections.push((
        "Limits".into(),
        vec![
            format!("memory: {}", human_bytes(l.memory_bytes)),
            format!("processes/threads: {}", l.pids),
            format!("cpu time: {}", l.cpu_seconds.map(|s| format!("{s} s")).unwrap_or_else(|| "unlimited".into())),
            format!("file size: {}", human_bytes(l.file_size_bytes)),
            format!("open files: {}", l.open_files),
        ],
    ));

    let container = match plan {
        Ok(p) => p.container.as_ref(),
        Err(_) => None,
    };
    let mut sandbox: Vec<String> = match (profile.sandbox.backend, container) {
        (mcpcell_profiles::Backend::Container, Some(c)) => vec![
            format!(
                "backend: container (engine: {}), image {}",
                host.engine
                    .as_ref()
                    .map(|e| format!("{} {}", e.name, e.version))
                    .unwrap_or_else(|| "NONE ANSWERS: start will be REFUSED".into()),
                match &profile.sandbox.image {
                    Some(image) => format!("{image}: its own runtime; the host's system trees are not mounted"),
                    None => format!("{} with the host's system trees bound read-only (as in the jail)", c.image),
                }
            ),
            format!(
                "engine settings: read-only root, cap_drop ALL, no-new-privileges, the seccomp list below as an \
                 engine profile, user {}, pids {}, memory {}, network none, private ipc, stdio never logged",
                c.user,
                c.pids,
                human_bytes(c.memory_bytes)
            ),
            "init: mcpcell itself (bound read-only) re-applies rlimits, Landlock and seccomp in the container, \
             and stops the server when the launcher goes away"
                .into(),
        ],
        (mcpcell_profiles::Backend::Container, None) => vec!["backend: container".into()],
        _ => vec!["backend: jail".into(), "namespaces: user, mount, pid, network, ipc, uts, cgroup".into()],
    };
    sandbox.extend([
        "no capabilities, no_new_privs, new session (no controlling terminal), fds above 2 closed".to_string(),
        format!(
            "seccomp: denies {} syscalls (ptrace, mount API, namespaces, keyrings, bpf, io_uring, perf, userfaultfd, TIOCSTI...) and x32/i386 entry points",
            crate::plan::SeccompPolicy::default_deny().deny.len() + 1
        ),
    ]);
    let min = profile.sandbox.landlock_min_abi;
    sandbox.push(match (min, host.landlock_abi) {
        (0, Some(v)) => format!("Landlock: OPTIONAL per profile (landlock_min_abi = 0); this host enforces ABI {v}"),
        (0, None) => "Landlock: OPTIONAL per profile (landlock_min_abi = 0) and NOT available on this host".into(),
        (m, Some(v)) if v >= m => format!("Landlock: required ABI >= {m}; this host enforces ABI {v}"),
        (m, found) => format!("Landlock: required ABI >= {m}; this host offers {found:?}: start will be REFUSED"),
    });
    if let Err(e) = plan {
        sandbox.push(format!("start will be REFUSED: {e}"));
    }
    sections.push(("Isolation".into(), sandbox));
    Explanation { sections }
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}

/// One secret in words: source, delivery, lifetime, refresh and revocation. Never a value.
fn explain_secret(s: &Secret) -> String {
    let src = match &s.source {
        SecretSource::Command { argv, timeout_secs } => {
            format!("the command `{}` (run by mcpcell, no shell, {timeout_secs} s limit)", argv.join(" "))
        }
        SecretSource::AwsSts(a) => {
            let policy = if a.policy.is_some() { ", narrowed by an inline session policy" } else { "" };
            format!("{}{policy}", s.source.describe())
        }
        SecretSource::OAuth2(o) => {
            let mut text = format!("{}, resource {}", s.source.describe(), o.resource.join(" "));
            if let Some(a) = &o.audience {
                text.push_str(&format!(", audience {a}"));
            }
            if let Some(sc) = &o.scope {
                text.push_str(&format!(", scope \"{sc}\""));
            }
            text
        }
        SecretSource::GithubApp(g) => {
            let repos = if g.repositories.is_empty() {
                "every repository of the installation".to_string()
            } else {
                g.repositories.join(", ")
            };
            let perms = if g.permissions.is_empty() {
                "the App's permissions".to_string()
            } else {
                g.permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(", ")
            };
            format!("{} for {repos} with {perms}", s.source.describe())
        }
        other => other.describe(),
    };
    let lifetime = match (s.ttl_secs, s.is_minted()) {
        (Some(t), _) => format!("lives {t} s"),
        (None, true) => "lives as long as the issuer says".into(),
        (None, false) => "no expiry".into(),
    };
    let refresh = match (&s.delivery, s.ttl_secs.is_some() || s.is_minted()) {
        (SecretDelivery::File { .. }, true) => "; obtained again and the file rewritten at 75% of its life",
        (_, true) => "; not refreshed (env delivery)",
        _ => "",
    };
    let revoke = match &s.source {
        SecretSource::GithubApp(_) => "; revoked at exit",
        SecretSource::OAuth2(o) if o.revocation_url.is_some() => "; revoked at exit",
        _ => "",
    };
    format!(
        "{}: from {src}, delivered as {}; {lifetime}{refresh}{revoke}",
        s.name,
        crate::secrets::describe_delivery(s)
    )
}
