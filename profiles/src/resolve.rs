//! Loading: finding a profile by spec, following `extends`, merging layers, and the checks
//! that need the merged result.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalogue::{builtin, builtin_names};
use crate::error::{Location, ProfileError};
use crate::model::{
    Audit, EgressRule, Filesystem, Limits, Network, Origin, Profile, Sandbox, Secret, SecretDelivery, SecretSource,
    Server, ToolPolicy,
};
use crate::parse::{is_env_name, parse_layer, source_name, At, Grant, Layer, Param, SecretLayer, SourceSpec};
use crate::LoadContext;

/// At most this many `extends` hops from the profile being loaded.
pub const MAX_EXTENDS_DEPTH: usize = 8;

pub(crate) fn load(spec: &str, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    if is_path_spec(spec) {
        let path = PathBuf::from(spec);
        let text = read(&path)?;
        return parse_str(&text, Origin::File(path), ctx);
    }
    if let Some(path) = installed(spec, ctx, None) {
        let text = read(&path)?;
        return parse_str(&text, Origin::File(path), ctx);
    }
    if let Some(b) = builtin(spec) {
        return parse_str(b.toml, Origin::Builtin(b.name.to_string()), ctx);
    }
    Err(ProfileError::NotFound {
        spec: spec.to_string(),
        searched: ctx.profile_dirs.clone(),
        builtins: builtin_names(),
    })
}

pub(crate) fn parse_str(text: &str, origin: Origin, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    let first = parse_layer(text, origin, &ctx.home)?;
    let mut ids = vec![identity(&first.origin)];
    let mut names = vec![first.file.clone()];
    let mut layers = vec![first];
    while let Some(ext) = layers.last().and_then(|l| l.extends.clone()) {
        let from = layers.last().map(|l| l.origin.clone()).unwrap_or(Origin::AdHoc);
        if layers.len() > MAX_EXTENDS_DEPTH {
            return Err(ProfileError::invalid(
                ext.at,
                format!("extends chain is longer than {MAX_EXTENDS_DEPTH} profiles; merge some of them into one file"),
            ));
        }
        let (origin, text) = find_extended(&ext, &from, ctx)?;
        let id = identity(&origin);
        names.push(source_name(&origin));
        if ids.contains(&id) {
            return Err(ProfileError::ExtendsCycle { location: ext.at, chain: names });
        }
        ids.push(id);
        layers.push(parse_layer(&text, origin, &ctx.home)?);
    }
    let extends = layers.iter().skip(1).map(|l| l.origin.clone()).collect();
    let mut layers = layers.into_iter().rev();
    let root = layers.next().ok_or_else(|| ProfileError::invalid(Location::start("<empty>"), "no profile"))?;
    let merged = layers.fold(root, merge);
    finish(merged, extends, ctx)
}

/// A spec naming a file rather than a profile.
fn is_path_spec(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml")
}

fn read(path: &Path) -> Result<String, ProfileError> {
    std::fs::read_to_string(path).map_err(|source| ProfileError::Io { path: path.to_path_buf(), source })
}

/// `NAME.toml` in the first profile dir that has it, skipping `except` (so that an installed
/// `github.toml` with `extends = "github"` customises the built-in instead of itself).
fn installed(name: &str, ctx: &LoadContext, except: Option<&Path>) -> Option<PathBuf> {
    let except = except.map(canonical);
    ctx.profile_dirs
        .iter()
        .map(|dir| dir.join(format!("{name}.toml")))
        .find(|p| p.is_file() && except.as_deref() != Some(canonical(p).as_path()))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[derive(PartialEq)]
enum Identity {
    Builtin(String),
    File(PathBuf),
    AdHoc,
}

fn identity(origin: &Origin) -> Identity {
    match origin {
        Origin::Builtin(name) => Identity::Builtin(name.clone()),
        Origin::File(path) => Identity::File(canonical(path)),
        Origin::AdHoc => Identity::AdHoc,
    }
}

fn find_extended(
    ext: &At<String>,
    from: &Origin,
    ctx: &LoadContext,
) -> Result<(Origin, Cow<'static, str>), ProfileError> {
    let spec = ext.value.as_str();
    let builtins = builtin_names().join(", ");
    if let Origin::Builtin(_) = from {
        // The catalogue is self-contained: what a built-in means must not depend on the host.
        return match builtin(spec) {
            Some(b) => Ok((Origin::Builtin(b.name.to_string()), Cow::Borrowed(b.toml))),
            None => Err(ProfileError::invalid(
                ext.at.clone(),
                format!("extends \"{spec}\": a built-in profile can only extend built-in profiles: {builtins}"),
            )),
        };
    }
    let from_file = match from {
        Origin::File(path) => Some(path.as_path()),
        _ => None,
    };
    if is_path_spec(spec) {
        let path = if spec == "~" || spec.starts_with("~/") {
            crate::paths::expand_path(spec, &ctx.home)
                .map_err(|why| ProfileError::invalid(ext.at.clone(), format!("extends: {why}")))?
        } else {
            let base = from_file.and_then(Path::parent).unwrap_or(Path::new(""));
            crate::paths::normalize(&base.join(spec))
        };
        if !path.is_file() {
            return Err(ProfileError::invalid(
                ext.at.clone(),
                format!(
                    "extends \"{spec}\": file \"{}\" does not exist; fix the path (relative paths start from this file's directory)",
                    path.display()
                ),
            ));
        }
        let text = read(&path)?;
        return Ok((Origin::File(path), Cow::Owned(text)));
    }
    if let Some(path) = installed(spec, ctx, from_file) {
        let text = read(&path)?;
        return Ok((Origin::File(path), Cow::Owned(text)));
    }
    if let Some(b) = builtin(spec) {
        return Ok((Origin::Builtin(b.name.to_string()), Cow::Borrowed(b.toml)));
    }
    Err(ProfileError::invalid(
        ext.at.clone(),
        format!(
            "extends \"{spec}\": no such profile (not a file, not installed, not built in); use a path to a .toml file or one of the built-in profiles: {builtins}"
        ),
    ))
}

/// `child` over `parent`: tables merge key by key (child wins), arrays are replaced whole.
fn merge(parent: Layer, child: Layer) -> Layer {
    let server_set = child.command.is_some() || child.package.is_some();
    let mut env = parent.env;
    env.extend(child.env);
    let mut secrets = parent.secrets;
    for (name, c) in child.secrets {
        let merged = match secrets.remove(&name) {
            // A child that sets `source` replaces the source-specific keys too, so switching a
            // base's command source to `env:` does not inherit a stale `command`.
            Some(p) if c.source.is_some() => SecretLayer {
                env: c.env.or(p.env),
                delivery: c.delivery.or(p.delivery),
                ttl_secs: c.ttl_secs.or(p.ttl_secs),
                ..c
            },
            Some(p) => {
                let mut params = p.params;
                params.extend(c.params);
                SecretLayer {
                    at: c.at,
                    source: p.source,
                    env: c.env.or(p.env),
                    command: c.command.or(p.command),
                    timeout_secs: c.timeout_secs.or(p.timeout_secs),
                    delivery: c.delivery.or(p.delivery),
                    ttl_secs: c.ttl_secs.or(p.ttl_secs),
                    params,
                }
            }
            None => c,
        };
        secrets.insert(name, merged);
    }
    Layer {
        origin: child.origin,
        file: child.file,
        description: child.description.or(parent.description),
        extends: child.extends,
        // A child naming either what to run replaces both: command and package exclude each other.
        command: if server_set { child.command } else { parent.command },
        package: if server_set { child.package } else { parent.package },
        install_scripts: child.install_scripts.or(parent.install_scripts),
        i_mean_it: child.i_mean_it.or(parent.i_mean_it),
        args: child.args.or(parent.args),
        env,
        cwd: child.cwd.or(parent.cwd),
        read: child.read.or(parent.read),
        write: child.write.or(parent.write),
        egress: child.egress.or(parent.egress),
        secrets,
        memory: child.memory.or(parent.memory),
        pids: child.pids.or(parent.pids),
        cpu_seconds: child.cpu_seconds.or(parent.cpu_seconds),
        file_size: child.file_size.or(parent.file_size),
        open_files: child.open_files.or(parent.open_files),
        tmpfs_size: child.tmpfs_size.or(parent.tmpfs_size),
        backend: child.backend.or(parent.backend),
        landlock_min_abi: child.landlock_min_abi.or(parent.landlock_min_abi),
        shutdown_grace_ms: child.shutdown_grace_ms.or(parent.shutdown_grace_ms),
        image: child.image.or(parent.image),
        tools_allow: child.tools_allow.or(parent.tools_allow),
        tools_deny: child.tools_deny.or(parent.tools_deny),
        tools_confirm: child.tools_confirm.or(parent.tools_confirm),
        read_only: child.read_only.or(parent.read_only),
        on_poisoned: child.on_poisoned.or(parent.on_poisoned),
        pins: child.pins.or(parent.pins),
        max_message_bytes: child.max_message_bytes.or(parent.max_message_bytes),
        call_timeout_secs: child.call_timeout_secs.or(parent.call_timeout_secs),
        calls_per_minute: child.calls_per_minute.or(parent.calls_per_minute),
        tool_calls_per_minute: child.tool_calls_per_minute.or(parent.tool_calls_per_minute),
        audit_file: child.audit_file.or(parent.audit_file),
        audit_max_bytes: child.audit_max_bytes.or(parent.audit_max_bytes),
    }
}

/// Checks that need the merged profile, then builds it.
fn finish(l: Layer, extends: Vec<Origin>, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    let command = match (l.command, &l.package) {
        (Some(command), _) => command.value,
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(ProfileError::invalid(
                Location::start(&l.file),
                "[server] command is missing; add [server] command = \"...\" naming the MCP server program, package = \"npm:...\" or \"pypi:...\", or extends = a profile that sets one",
            ))
        }
    };

    let read = dedup_grants(l.read.unwrap_or_default());
    let write = dedup_grants(l.write.unwrap_or_default());
    for w in &write {
        if read.iter().any(|r| r.value.grant.path == w.value.grant.path) {
            return Err(ProfileError::invalid(
                w.at.clone(),
                format!(
                    "path \"{}\" is granted both read and write; pick one (write already allows reading)",
                    w.value.written
                ),
            ));
        }
    }
    if ctx.check_paths {
        for g in read.iter().chain(&write) {
            if !g.value.grant.optional && !g.value.grant.path.exists() {
                let written = &g.value.written;
                return Err(ProfileError::invalid(
                    g.at.clone(),
                    format!(
                        "path \"{written}\" does not exist; create it or mark it optional: {{ path = \"{written}\", optional = true }}"
                    ),
                ));
            }
        }
        if let Some(cwd) = &l.cwd {
            if !cwd.value.grant.path.is_dir() {
                return Err(ProfileError::invalid(
                    cwd.at.clone(),
                    format!(
                        "server.cwd \"{}\" is not an existing directory; create it or change cwd",
                        cwd.value.written
                    ),
                ));
            }
        }
    }

    let mut secrets = Vec::new();
    let mut delivered: BTreeMap<String, String> = BTreeMap::new();
    for (name, s) in l.secrets {
        let Some(source) = s.source else {
            return Err(ProfileError::invalid(
                s.at,
                format!("[secrets.{name}] has no source; add source = \"env:NAME\", \"file:PATH\", \"command\", \"keyring\", \"aws-sts\", \"oauth2\" or \"github-app\""),
            ));
        };
        let source_at = source.at.clone();
        let mut source = match source.value {
            SourceSpec::Ready(src) => {
                if let Some((key, p)) = s.params.iter().next() {
                    return Err(ProfileError::invalid(
                        p.at.clone(),
                        format!("secrets.{name}.{key} is not a setting of source = \"{}\"; remove it", src.kind()),
                    ));
                }
                src
            }
            SourceSpec::Kind(kind) => {
                let mut params = Params { secret: &name, kind, at: source_at.clone(), map: s.params };
                let built = params.build()?;
                params.finish()?;
                built
            }
        };
        if let SecretSource::Command { argv, timeout_secs } = &mut source {
            let Some(command) = s.command else {
                return Err(ProfileError::invalid(
                    source_at,
                    format!("secrets.{name}: source = \"command\" needs command = [\"program\", \"arg\", ...], the argv to run (no shell)"),
                ));
            };
            *argv = command.value;
            if let Some(t) = s.timeout_secs {
                *timeout_secs = t.value;
            }
        } else if let Some(command) = s.command {
            return Err(ProfileError::invalid(
                command.at,
                format!("secrets.{name}.command is only used with source = \"command\"; remove it or set source = \"command\""),
            ));
        } else if let Some(t) = s.timeout_secs {
            return Err(ProfileError::invalid(
                t.at,
                format!("secrets.{name}.timeout_secs is only used with source = \"command\"; remove it or set source = \"command\""),
            ));
        }
        let file = s.delivery.as_ref().is_some_and(|d| d.value == "file");
        let safe_file_name = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if file && !safe_file_name {
            return Err(ProfileError::invalid(
                s.at,
                format!("secret name \"{name}\" cannot be a file name (it names the secret's file); with delivery = \"file\" use letters, digits, \"_\", \".\" and \"-\""),
            ));
        }
        let aws = matches!(source, SecretSource::AwsSts(_));
        let (delivery, vars, at) = match (file, aws, s.env) {
            (false, true, Some(env)) => {
                return Err(ProfileError::invalid(
                    env.at,
                    format!("secrets.{name}: an aws-sts secret is delivered as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; remove env, or set delivery = \"file\" to name the variable holding the credentials file's path"),
                ));
            }
            (false, true, None) => (SecretDelivery::AwsEnv, mcpcell_aws_vars(), s.at.clone()),
            (true, _, Some(env)) => (SecretDelivery::File { env: env.value.clone() }, vec![env.value], env.at),
            (true, true, None) => {
                let env = "AWS_SHARED_CREDENTIALS_FILE".to_string();
                (SecretDelivery::File { env: env.clone() }, vec![env], s.at.clone())
            }
            (true, false, None) if is_env_name(&name) => {
                let env = format!("{name}_FILE");
                (SecretDelivery::File { env: env.clone() }, vec![env], s.at.clone())
            }
            (false, false, Some(env)) => (SecretDelivery::Env(env.value.clone()), vec![env.value], env.at),
            (false, false, None) if is_env_name(&name) => {
                (SecretDelivery::Env(name.clone()), vec![name.clone()], s.at.clone())
            }
            (_, false, None) => {
                return Err(ProfileError::invalid(
                    s.at,
                    format!("secret name \"{name}\" is not a valid environment variable name, so it needs env = \"...\" naming the variable to deliver it as"),
                ));
            }
        };
        for env in vars {
            if let Some(other) = delivered.get(&env) {
                return Err(ProfileError::invalid(
                    at,
                    format!("secret \"{name}\" is delivered as env \"{env}\", which secret \"{other}\" already uses; give one of them a different env = \"...\""),
                ));
            }
            if l.env.contains_key(&env) {
                return Err(ProfileError::invalid(
                    at,
                    format!("secret \"{name}\" is delivered as env \"{env}\", which [server] env also sets; remove {env} from [server] env or deliver the secret as another variable"),
                ));
            }
            delivered.insert(env, name.clone());
        }
        secrets.push(Secret { name, source, delivery, ttl_secs: s.ttl_secs.map(|t| t.value) });
    }

    let mut egress: Vec<EgressRule> = Vec::new();
    for At { value: rule, at } in l.egress.unwrap_or_default() {
        match egress.iter().find(|seen| seen.host == rule.host && seen.port == rule.port) {
            None => egress.push(rule),
            Some(seen) if seen.allow_private == rule.allow_private => {}
            Some(_) => {
                return Err(ProfileError::invalid(
                    at,
                    format!("egress entry \"{rule}\" is listed twice with different allow_private; keep one entry, with allow_private = true only if the server must reach a private address"),
                ));
            }
        }
    }

    // Any [tools] key, here or in an ancestor, asks for the relay (even on_poisoned = "warn",
    // the default value: writing it down means "inspect").
    let inspect = l.tools_allow.is_some()
        || l.tools_deny.is_some()
        || l.tools_confirm.is_some()
        || l.read_only.is_some()
        || l.on_poisoned.is_some()
        || l.pins.is_some()
        || l.max_message_bytes.is_some()
        || l.call_timeout_secs.is_some()
        || l.calls_per_minute.is_some()
        || l.tool_calls_per_minute.is_some();
    let allow = l.tools_allow.unwrap_or_default();
    let deny = l.tools_deny.unwrap_or_default();
    if let Some(d) = deny.iter().find(|d| allow.iter().any(|a| a.value == d.value)) {
        return Err(ProfileError::invalid(
            d.at.clone(),
            format!(
                "tool pattern \"{}\" is both allowed and denied; remove it from [tools] allow or deny (deny wins, so allowing it has no effect)",
                d.value
            ),
        ));
    }
    let tool_defaults = ToolPolicy::default();
    let tools = ToolPolicy {
        inspect,
        allow: allow.into_iter().map(|a| a.value).collect(),
        deny: deny.into_iter().map(|d| d.value).collect(),
        confirm: l.tools_confirm.unwrap_or_default().into_iter().map(|c| c.value).collect(),
        read_only: l.read_only.unwrap_or(tool_defaults.read_only),
        on_poisoned: l.on_poisoned.unwrap_or(tool_defaults.on_poisoned),
        pins: l.pins.unwrap_or(tool_defaults.pins),
        max_message_bytes: l.max_message_bytes.unwrap_or(tool_defaults.max_message_bytes),
        call_timeout_secs: l.call_timeout_secs,
        calls_per_minute: l.calls_per_minute,
        tool_calls_per_minute: l.tool_calls_per_minute,
    };
    let audit = Audit {
        file: l.audit_file.map(|f| f.value.grant.path),
        max_bytes: l.audit_max_bytes.unwrap_or(Audit::default().max_bytes),
    };

    let defaults = Limits::default();
    let sandbox_defaults = Sandbox::default();
    let name = match &l.origin {
        Origin::Builtin(name) => name.clone(),
        Origin::File(path) => path.file_stem().map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned()),
        Origin::AdHoc => "exec".to_string(),
    };
    Ok(Profile {
        name,
        origin: l.origin,
        extends,
        description: l.description,
        server: Server {
            command,
            package: l.package.map(|p| p.value),
            install_scripts: l.install_scripts.unwrap_or(false),
            i_mean_it: l.i_mean_it.unwrap_or(false),
            args: l.args.unwrap_or_default(),
            env: l.env.into_iter().map(|(k, v)| (k, v.value)).collect(),
            cwd: l.cwd.map(|c| c.value.grant.path),
        },
        filesystem: Filesystem {
            read: read.into_iter().map(|g| g.value.grant).collect(),
            write: write.into_iter().map(|g| g.value.grant).collect(),
        },
        network: Network { egress },
        secrets,
        limits: Limits {
            memory_bytes: l.memory.unwrap_or(defaults.memory_bytes),
            pids: l.pids.unwrap_or(defaults.pids),
            cpu_seconds: l.cpu_seconds.unwrap_or(defaults.cpu_seconds),
            file_size_bytes: l.file_size.unwrap_or(defaults.file_size_bytes),
            open_files: l.open_files.unwrap_or(defaults.open_files),
            tmpfs_bytes: l.tmpfs_size.unwrap_or(defaults.tmpfs_bytes),
        },
        sandbox: Sandbox {
            backend: l.backend.unwrap_or(sandbox_defaults.backend),
            landlock_min_abi: l.landlock_min_abi.unwrap_or(sandbox_defaults.landlock_min_abi),
            shutdown_grace_ms: l.shutdown_grace_ms.unwrap_or(sandbox_defaults.shutdown_grace_ms),
            image: l.image,
        },
        tools,
        audit,
    })
}

/// The same path listed twice collapses to one grant, optional only if every listing was.
fn dedup_grants(grants: Vec<At<Grant>>) -> Vec<At<Grant>> {
    let mut out: Vec<At<Grant>> = Vec::new();
    for g in grants {
        match out.iter_mut().find(|o| o.value.grant.path == g.value.grant.path) {
            Some(existing) => {
                if !g.value.grant.optional && existing.value.grant.optional {
                    *existing = g;
                }
            }
            None => out.push(g),
        }
    }
    out
}

fn mcpcell_aws_vars() -> Vec<String> {
    crate::model::AWS_ENV_VARS.iter().map(|v| v.to_string()).collect()
}

/// The source-specific keys of one `[secrets.NAME]`, taken one by one as the source is built;
/// whatever is left over does not belong to this kind of source.
struct Params<'a> {
    secret: &'a str,
    kind: &'static str,
    /// Where `source` was written (for a missing key).
    at: Location,
    map: BTreeMap<String, At<Param>>,
}

impl Params<'_> {
    fn err(&self, at: Location, msg: String) -> ProfileError {
        ProfileError::invalid(at, format!("secrets.{}: {msg}", self.secret))
    }

    fn missing(&self, key: &str, example: &str) -> ProfileError {
        self.err(self.at.clone(), format!("source = \"{}\" needs {key} (like {key} = {example})", self.kind))
    }

    fn opt_str(&mut self, key: &str) -> Result<Option<String>, ProfileError> {
        match self.map.remove(key) {
            None => Ok(None),
            Some(At { value: Param::Str(s), .. }) => Ok(Some(s)),
            Some(At { at, .. }) => Err(self.err(at, format!("{key} must be a string"))),
        }
    }

    fn str(&mut self, key: &str, example: &str) -> Result<String, ProfileError> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key, example))
    }

    /// A string or an array of strings.
    fn list(&mut self, key: &str) -> Result<Vec<String>, ProfileError> {
        match self.map.remove(key) {
            None => Ok(Vec::new()),
            Some(At { value: Param::Str(s), .. }) => Ok(vec![s]),
            Some(At { value: Param::List(l), .. }) => Ok(l),
            Some(At { at, .. }) => Err(self.err(at, format!("{key} must be a string or an array of strings"))),
        }
    }

    fn source(&mut self, key: &str) -> Result<Option<Box<SecretSource>>, ProfileError> {
        match self.map.remove(key) {
            None => Ok(None),
            Some(At { value: Param::Source(s), .. }) => Ok(Some(Box::new(s))),
            Some(At { at, .. }) => Err(self.err(at, format!("{key} must be \"env:NAME\" or \"file:PATH\""))),
        }
    }

    /// An issuer URL: https, or http to a loopback host (for local issuers and tests).
    fn url(&mut self, key: &str, default: Option<&str>, example: &str) -> Result<String, ProfileError> {
        let at = self.map.get(key).map(|p| p.at.clone());
        let url = match (self.opt_str(key)?, default) {
            (Some(u), _) => u,
            (None, Some(d)) => return Ok(d.to_string()),
            (None, None) => return Err(self.missing(key, example)),
        };
        check_issuer_url(&url)
            .map_err(|why| self.err(at.unwrap_or_else(|| self.at.clone()), format!("{key}: {why}")))?;
        Ok(url.trim_end_matches('/').to_string())
    }

    fn build(&mut self) -> Result<SecretSource, ProfileError> {
        use crate::model::{AwsSts, GithubApp, OAuth2, OAuth2Grant};
        Ok(match self.kind {
            "keyring" => {
                SecretSource::Keyring { service: self.str("service", "\"github\"")?, user: self.str("user", "\"me\"")? }
            }
            "aws-sts" => {
                let role_arn = self.str("role_arn", "\"arn:aws:iam::123456789012:role/mcp-read\"")?;
                if !role_arn.starts_with("arn:") {
                    let at = self.at.clone();
                    return Err(
                        self.err(at, "role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)".into())
                    );
                }
                let policy_at = self.map.get("policy").map(|p| p.at.clone());
                let policy = self.opt_str("policy")?;
                if let (Some(p), Some(at)) = (&policy, policy_at) {
                    if !serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object()) {
                        return Err(self.err(at, "policy must be an IAM policy document in JSON (an object with \"Version\" and \"Statement\")".into()));
                    }
                }
                AwsSts {
                    role_arn,
                    session_name: self.opt_str("session_name")?.unwrap_or_else(|| "mcpcell".into()),
                    policy,
                    endpoint: self.url("endpoint", Some("https://sts.amazonaws.com"), "")?,
                    region: self.opt_str("region")?.unwrap_or_else(|| "us-east-1".into()),
                }
                .into_source()
            }
            "oauth2" => {
                let token_url = self.url("token_url", None, "\"https://auth.example.com/oauth/token\"")?;
                let grant_at = self.map.get("grant").map(|p| p.at.clone()).unwrap_or_else(|| self.at.clone());
                let grant = match self.opt_str("grant")?.as_deref() {
                    None | Some("client_credentials") => {
                        for key in ["subject_token", "subject_token_type", "requested_token_type"] {
                            if let Some(p) = self.map.get(key) {
                                let at = p.at.clone();
                                return Err(self.err(at, format!("{key} is only used with grant = \"token_exchange\"")));
                            }
                        }
                        OAuth2Grant::ClientCredentials
                    }
                    Some("token_exchange") => OAuth2Grant::TokenExchange {
                        subject_token: self
                            .source("subject_token")?
                            .ok_or_else(|| self.missing("subject_token", "\"env:UPSTREAM_TOKEN\""))?,
                        subject_token_type: self
                            .opt_str("subject_token_type")?
                            .unwrap_or_else(|| "urn:ietf:params:oauth:token-type:access_token".into()),
                        requested_token_type: self.opt_str("requested_token_type")?,
                    },
                    Some(other) => {
                        return Err(self.err(
                            grant_at,
                            format!("grant = \"{other}\": use \"client_credentials\" or \"token_exchange\""),
                        ));
                    }
                };
                let resource = self.list("resource")?;
                if resource.is_empty() {
                    return Err(self
                        .missing("resource", "\"https://mcp.example.com\" (RFC 8707: the token is only good there)"));
                }
                let scope = self.list("scope")?;
                let revocation_url = match self.map.contains_key("revocation_url") {
                    true => Some(self.url("revocation_url", None, "")?),
                    false => None,
                };
                OAuth2 {
                    token_url,
                    grant,
                    client_id: self.str("client_id", "\"mcp-client\"")?,
                    client_secret: self.source("client_secret")?,
                    resource,
                    audience: self.opt_str("audience")?,
                    scope: (!scope.is_empty()).then(|| scope.join(" ")),
                    revocation_url,
                }
                .into_source()
            }
            "github-app" => {
                let app_id = match self.map.remove("app_id") {
                    Some(At { value: Param::Int(n), .. }) => n.to_string(),
                    Some(At { value: Param::Str(s), .. }) => s,
                    Some(At { at, .. }) => return Err(self.err(at, "app_id must be the App's id or client id".into())),
                    None => return Err(self.missing("app_id", "12345")),
                };
                let installation_id = match self.map.remove("installation_id") {
                    Some(At { value: Param::Int(n), .. }) => n,
                    Some(At { at, .. }) => return Err(self.err(at, "installation_id must be an integer".into())),
                    None => return Err(self.missing("installation_id", "6789012")),
                };
                let private_key = self
                    .source("private_key")?
                    .ok_or_else(|| self.missing("private_key", "\"file:~/.config/mcpcell/app.pem\""))?;
                let repositories = self.list("repositories")?;
                let permissions = match self.map.remove("permissions") {
                    None => BTreeMap::new(),
                    Some(At { value: Param::Map(m), at }) => {
                        if let Some((k, v)) = m.iter().find(|(_, v)| !matches!(v.as_str(), "read" | "write" | "admin"))
                        {
                            return Err(self
                                .err(at, format!("permissions.{k} = \"{v}\": use \"read\", \"write\" or \"admin\"")));
                        }
                        m
                    }
                    Some(At { at, .. }) => {
                        return Err(self.err(at, "permissions must be a table like { contents = \"read\" }".into()));
                    }
                };
                GithubApp {
                    app_id,
                    installation_id,
                    private_key,
                    repositories,
                    permissions,
                    api_url: self.url("api_url", Some("https://api.github.com"), "")?,
                }
                .into_source()
            }
            other => {
                let at = self.at.clone();
                return Err(self.err(at, format!("unknown source kind \"{other}\"")));
            }
        })
    }

    /// Keys left over belong to another kind of source.
    fn finish(self) -> Result<(), ProfileError> {
        match self.map.into_iter().next() {
            Some((key, p)) => Err(ProfileError::invalid(
                p.at,
                format!("secrets.{}.{key} is not a setting of source = \"{}\"; remove it", self.secret, self.kind),
            )),
            None => Ok(()),
        }
    }
}

/// Issuer URLs: `https://HOST...`, or `http://` to a loopback host (127.0.0.0/8, `[::1]`,
/// `localhost`), which is how local issuers and tests are reached. Anything else would send
/// client secrets and tokens in the clear.
pub fn check_issuer_url(url: &str) -> Result<(), String> {
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| format!("\"{url}\" is not a URL; write https://HOST/PATH"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("\"{url}\" has no host (or has credentials in it); write https://HOST/PATH"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(format!("\"{url}\" is plain http to a non-loopback host; use https (http is only accepted for 127.0.0.1, [::1] and localhost)")),
        _ => Err(format!("\"{url}\": the scheme must be https")),
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}
