//! `mcpcell wrap`: rewrite an MCP client config (Claude Desktop, Cursor, VS Code, Claude Code)
//! so that each stdio server started with `npx`, `uvx`, `node` or `python` runs through
//! `mcpcell run PROFILE`, with a generated least-privilege profile and its literal secrets moved
//! out of the JSON.
//!
//! [`plan`] reads nothing but the config text and the files its servers name (scripts, path
//! arguments) and decides everything: the rewritten config (edited in place with a concrete
//! syntax tree, so comments and formatting survive), the profiles and the secret files.
//! [`Plan::preview`] renders it for a dry run (a unified diff; secret values never appear);
//! [`apply`] writes it (backup, atomic replace, refusing to overwrite what differs).

mod apply;
mod client;
mod launch;
mod profile;
mod secrets;

pub use apply::{apply, Applied};
pub use client::ClientKind;
pub use profile::GrantPlan;
pub use secrets::SecretValue;

use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use launch::{Launch, Source};
use profile::ProfileSpec;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where the invoking user's mcpcell files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapEnv {
    /// For `~` in paths.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, else `~/.config`: profiles go to `mcpcell/profiles`, secrets to
    /// `mcpcell/secrets` under it.
    pub config_home: PathBuf,
}

impl WrapEnv {
    pub fn profiles_dir(&self) -> PathBuf {
        self.config_home.join("mcpcell/profiles")
    }
    pub fn secrets_dir(&self) -> PathBuf {
        self.config_home.join("mcpcell/secrets")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: not valid JSON: {message}; nothing was changed", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "{} changed since it was read; nothing was written, run `mcpcell wrap` again",
        path.display()
    )]
    Changed { path: PathBuf },
    #[error(
        "these files exist and differ from what wrap would write:\n{}\nnothing was written; compare them \
         (`mcpcell wrap CONFIG` shows the new text), then delete or rename them, or pass --force to overwrite",
        list.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n")
    )]
    Conflicts { list: Vec<PathBuf> },
}

/// What happened to one server entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rewritten to `mcpcell run PROFILE`.
    Wrapped {
        profile: String,
        /// `npx npm:pkg@1.2.3`, `node /path/x.js`: what it ran before.
        from: String,
        /// The built-in profile the generated one extends.
        base: Option<String>,
        grants: Vec<GrantPlan>,
        notes: Vec<String>,
    },
    /// Its command is already mcpcell.
    AlreadyWrapped,
    /// A remote (URL) server: the client connects to it, nothing is started.
    Remote,
    /// Not understood: left as it was (the reason is also a warning).
    Unchanged { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    pub name: String,
    pub outcome: Outcome,
}

/// A generated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProfile {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// A literal secret moved out of the config into a file (mode 0600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    pub server: String,
    pub var: String,
    pub path: PathBuf,
    pub reason: String,
    pub value: SecretValue,
}

/// Everything `wrap` would do to one config. Its `Debug` leaves out the config's text (which
/// may hold secrets).
#[derive(Clone)]
pub struct Plan {
    pub config: PathBuf,
    /// `None` when the file's shape was not recognised (then nothing changes).
    pub kind: Option<ClientKind>,
    pub original: String,
    pub rewritten: String,
    pub servers: Vec<ServerReport>,
    pub profiles: Vec<NewProfile>,
    pub secrets: Vec<NewSecret>,
    /// For stderr: servers left unchanged, paths that do not exist, an unknown shape.
    pub warnings: Vec<String>,
    /// Literal secret values anywhere in the config (moved or not): hidden from every preview.
    redact: Vec<String>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("config", &self.config)
            .field("kind", &self.kind)
            .field("original", &format_args!("<{} bytes>", self.original.len()))
            .field("rewritten", &format_args!("<{} bytes>", self.rewritten.len()))
            .field("servers", &self.servers)
            .field("profiles", &self.profiles)
            .field("secrets", &self.secrets)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Whether a file the plan writes already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    New,
    /// Exists with exactly this content: nothing to write.
    Same,
    /// Exists with other content: `--write` refuses unless forced.
    Differs,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        self.rewritten != self.original || !self.profiles.is_empty() || !self.secrets.is_empty()
    }

    /// The state of every profile and secret file the plan writes, in order.
    pub fn file_states(&self) -> Vec<(PathBuf, FileState)> {
        let state = |path: &Path, want: &str| match std::fs::read(path) {
            Ok(have) if have == want.as_bytes() => FileState::Same,
            Ok(_) => FileState::Differs,
            Err(_) if path.symlink_metadata().is_ok() => FileState::Differs,
            Err(_) => FileState::New,
        };
        let mut out: Vec<(PathBuf, FileState)> =
            self.secrets.iter().map(|s| (s.path.clone(), state(&s.path, &secret_file_text(&s.value)))).collect();
        out.extend(self.profiles.iter().map(|p| (p.path.clone(), state(&p.path, &p.text))));
        out
    }

    /// Hides every literal secret value of the config in `text`.
    fn redacted(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.redact {
            if let Ok(quoted) = serde_json::to_string(value) {
                out = out.replace(&quoted, "\"<redacted>\"");
            }
            if value.chars().count() >= 6 {
                out = out.replace(value.as_str(), "<redacted>");
            }
        }
        out
    }

    /// One line per server: what wrap does with it.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let Some(kind) = self.kind else {
            out.push_str(&format!(
                "{}: not an MCP client config wrap understands; left unchanged\n",
                self.config.display()
            ));
            return out;
        };
        out.push_str(&format!(
            "{} {} ({} servers in \"{}\"):\n",
            kind.label(),
            self.config.display(),
            self.servers.len(),
            kind.servers_key()
        ));
        for s in &self.servers {
            let what = match &s.outcome {
                Outcome::Wrapped { profile, from, base: Some(base), .. } => {
                    format!("{from} -> mcpcell run {profile} (extends the built-in profile \"{base}\")")
                }
                Outcome::Wrapped { profile, from, base: None, grants, .. } => format!(
                    "{from} -> mcpcell run {profile} (new profile: no network, {})",
                    if grants.is_empty() { "no files" } else { "only the files listed below" }
                ),
                Outcome::AlreadyWrapped => "already runs through mcpcell; left alone".into(),
                Outcome::Remote => "remote server (URL); left alone".into(),
                Outcome::Unchanged { reason } => format!("left unchanged: {reason}"),
            };
            out.push_str(&format!("  {:?}: {what}\n", s.name));
        }
        let grants: Vec<String> = self
            .servers
            .iter()
            .flat_map(|s| match &s.outcome {
                Outcome::Wrapped { grants, .. } => grants
                    .iter()
                    .map(|g| {
                        format!(
                            "  {:?}: {} {}: {}\n",
                            s.name,
                            g.path.display(),
                            if g.write { "read-write" } else { "read-only" },
                            g.why
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        if !grants.is_empty() {
            out.push_str("Filesystem grants:\n");
            out.extend(grants);
        }
        let notes: Vec<String> = self
            .servers
            .iter()
            .flat_map(|s| match &s.outcome {
                Outcome::Wrapped { notes, .. } => notes.iter().map(|n| format!("  {:?}: {n}\n", s.name)).collect(),
                _ => Vec::new(),
            })
            .collect();
        if !notes.is_empty() {
            out.push_str("Notes:\n");
            out.extend(notes);
        }
        if !self.secrets.is_empty() {
            out.push_str("Secrets moved out of the config (values not shown):\n");
            for s in &self.secrets {
                out.push_str(&format!(
                    "  {:?}: {} -> {} (mode 0600; {})\n",
                    s.server,
                    s.var,
                    s.path.display(),
                    s.reason
                ));
            }
            out.push_str("  An OS keyring would be a better home than a file; mcpcell cannot read keyrings yet.\n");
        }
        out
    }

    /// The dry run: the summary, a unified diff of the config and of each new profile, the
    /// files it would write. Secret values never appear.
    pub fn preview(&self) -> String {
        let mut out = self.summary();
        if !self.has_changes() {
            out.push_str("Nothing to change.\n");
            return out;
        }
        let config = self.config.display().to_string();
        if self.rewritten != self.original {
            out.push('\n');
            out.push_str(&unified(&self.redacted(&self.original), &self.redacted(&self.rewritten), &config, &config));
        }
        let states = self.file_states();
        for p in &self.profiles {
            let state = states.iter().find(|(path, _)| path == &p.path).map(|(_, s)| *s);
            if state == Some(FileState::Same) {
                continue;
            }
            out.push('\n');
            let old = match state {
                Some(FileState::Differs) => std::fs::read_to_string(&p.path).unwrap_or_default(),
                _ => String::new(),
            };
            let from = if old.is_empty() { "/dev/null".to_string() } else { p.path.display().to_string() };
            out.push_str(&unified(&old, &p.text, &from, &p.path.display().to_string()));
        }
        out.push_str("\nFiles:\n");
        for (path, state) in &states {
            let what = match state {
                FileState::New => "create   ",
                FileState::Same => "unchanged",
                FileState::Differs => "CONFLICT ",
            };
            let extra = match state {
                FileState::Differs => " (exists and differs: --write refuses unless --force)",
                _ => "",
            };
            out.push_str(&format!("  {what} {}{extra}\n", path.display()));
        }
        if self.rewritten != self.original {
            let kept = if self.secrets.is_empty() { "" } else { ", holding the secrets, mode 0600" };
            out.push_str(&format!("  rewrite   {config} (the original is kept next to it as a backup{kept})\n"));
        }
        out.push_str(&format!("Dry run: nothing was written. To apply: mcpcell wrap {config} --write\n"));
        out
    }
}

fn unified(old: &str, new: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .missing_newline_hint(true)
        .to_string()
}

/// What a secret file holds: the value and a newline (the `file:` source trims it).
pub(crate) fn secret_file_text(value: &SecretValue) -> String {
    format!("{}\n", value.expose())
}

/// Reads `config` and plans its rewrite.
pub fn plan_file(config: &Path, env: &WrapEnv) -> Result<Plan, WrapError> {
    let text = std::fs::read_to_string(config).map_err(|source| WrapError::Read { path: config.into(), source })?;
    plan(config, &text, env)
}

/// Plans the rewrite of `text`, the content of the config at `config`.
pub fn plan(config: &Path, text: &str, env: &WrapEnv) -> Result<Plan, WrapError> {
    let root = CstRootNode::parse(text, &jsonc_parser::ParseOptions::default())
        .map_err(|e| WrapError::Parse { path: config.into(), message: e.to_string() })?;
    let mut plan = Plan {
        config: config.to_path_buf(),
        kind: None,
        original: text.to_string(),
        rewritten: text.to_string(),
        servers: Vec::new(),
        profiles: Vec::new(),
        secrets: Vec::new(),
        warnings: Vec::new(),
        redact: Vec::new(),
    };
    let shown = config.display();
    let Some(top) = root.object_value() else {
        plan.warnings.push(format!("{shown}: the top level is not a JSON object; left unchanged"));
        return Ok(plan);
    };
    let has_object = |key: &str| top.get(key).and_then(|p| p.object_value()).is_some();
    let kind = match ClientKind::from_path(config) {
        Some(kind) => kind,
        None if has_object("mcpServers") => ClientKind::OtherMcpServers,
        None if has_object("servers") => ClientKind::VsCode,
        None => {
            plan.warnings.push(format!(
                "{shown}: no \"mcpServers\" or \"servers\" object at the top level: not an MCP client config \
                 wrap knows; left unchanged"
            ));
            return Ok(plan);
        }
    };
    let key = kind.servers_key();
    let Some(servers) = top.get(key).and_then(|p| p.object_value()) else {
        plan.warnings.push(format!(
            "{shown}: a {} keeps its servers in a \"{key}\" object at the top level, and this file has none; \
             left unchanged",
            kind.label()
        ));
        return Ok(plan);
    };
    plan.kind = Some(kind);
    let config_name = config.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut used_names = BTreeSet::new();
    for prop in servers.properties() {
        let Some(name) = prop.decoded_name() else { continue };
        let value = prop.value().and_then(|v| v.to_serde_value()).unwrap_or(Value::Null);
        collect_secrets(&value, &mut plan.redact);
        let entry = prop.object_value();
        let outcome = match (entry, classify(&value)) {
            (_, Err(outcome)) => outcome,
            (None, Ok(_)) => Outcome::Unchanged { reason: "the entry is not an object".into() },
            (Some(entry), Ok(stdio)) => {
                let profile_name = unique_name(&name, &mut used_names);
                match wrap_server(&name, &profile_name, &stdio, config, &config_name, kind.label(), env) {
                    Ok(wrapped) => {
                        edit_entry(&entry, &profile_name, &wrapped.moved_env);
                        plan.warnings.extend(wrapped.warnings);
                        plan.secrets.extend(wrapped.secrets);
                        plan.profiles.push(NewProfile {
                            name: profile_name.clone(),
                            path: env.profiles_dir().join(format!("{profile_name}.toml")),
                            text: wrapped.profile.render(),
                        });
                        Outcome::Wrapped {
                            profile: profile_name,
                            from: wrapped.from,
                            base: wrapped.profile.extends.clone(),
                            grants: wrapped.profile.grants.clone(),
                            notes: wrapped.notes,
                        }
                    }
                    Err(reason) => {
                        used_names.remove(&profile_name);
                        Outcome::Unchanged { reason }
                    }
                }
            }
        };
        if let Outcome::Unchanged { reason } = &outcome {
            plan.warnings.push(format!("{shown}: server {name:?} left unchanged: {reason}"));
        }
        plan.servers.push(ServerReport { name, outcome });
    }
    // Claude Code's ~/.claude.json also keeps servers per project.
    let nested = top.get("projects").and_then(|p| p.object_value()).map(|projects| {
        projects
            .properties()
            .iter()
            .filter(|p| {
                p.object_value()
                    .and_then(|o| o.get("mcpServers"))
                    .and_then(|m| m.object_value())
                    .is_some_and(|m| !m.properties().is_empty())
            })
            .count()
    });
    if let Some(n) = nested.filter(|n| *n > 0) {
        plan.warnings.push(format!(
            "{shown}: {n} project(s) under \"projects\" have their own \"mcpServers\"; only the top-level \
             servers are wrapped, those are left unchanged"
        ));
    }
    plan.rewritten = root.to_string();
    plan.redact.sort_by_key(|v| std::cmp::Reverse(v.len()));
    plan.redact.dedup();
    Ok(plan)
}

/// Every literal that looks like a secret in an entry (env values and arguments).
fn collect_secrets(entry: &Value, out: &mut Vec<String>) {
    if let Some(env) = entry.get("env").and_then(Value::as_object) {
        for (k, v) in env {
            if let Some(v) = v.as_str() {
                if !v.is_empty() && !secrets::is_client_variable(v) && secrets::env_secret_reason(k, v).is_some() {
                    out.push(v.to_string());
                }
            }
        }
    }
    if let Some(args) = entry.get("args").and_then(Value::as_array) {
        let args: Vec<String> = args.iter().filter_map(Value::as_str).map(str::to_string).collect();
        out.extend(secrets::arg_secrets(&args).into_iter().map(|(_, value, _)| value));
    }
}

/// A stdio entry's parts.
struct Stdio {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn classify(value: &Value) -> Result<Stdio, Outcome> {
    let unchanged = |reason: &str| Err(Outcome::Unchanged { reason: reason.to_string() });
    let Some(obj) = value.as_object() else { return unchanged("the entry is not an object") };
    let kind = obj.get("type").and_then(Value::as_str);
    if obj.contains_key("url")
        || obj.contains_key("serverUrl")
        || matches!(kind, Some("http" | "sse" | "streamable-http" | "streamableHttp" | "ws"))
    {
        return Err(Outcome::Remote);
    }
    let Some(command) = obj.get("command").and_then(Value::as_str) else {
        return unchanged("it has no \"command\" string");
    };
    if launch::basename(command) == "mcpcell" {
        return Err(Outcome::AlreadyWrapped);
    }
    if let Some(kind) = kind {
        if kind != "stdio" {
            return Err(Outcome::Unchanged { reason: format!("transport type {kind:?} is not understood") });
        }
    }
    for key in ["cwd", "envFile", "envfile"] {
        if obj.contains_key(key) {
            return Err(Outcome::Unchanged {
                reason: format!("its \"{key}\" is not carried into a profile yet; write the profile by hand"),
            });
        }
    }
    let args = match obj.get("args") {
        None => Vec::new(),
        Some(Value::Array(items)) => match items.iter().map(|v| v.as_str().map(str::to_string)).collect() {
            Some(args) => args,
            None => return unchanged("its \"args\" are not all strings"),
        },
        Some(_) => return unchanged("its \"args\" is not an array"),
    };
    let env = match obj.get("env") {
        None => Vec::new(),
        Some(Value::Object(map)) => {
            let mut env = Vec::new();
            for (k, v) in map {
                match v.as_str() {
                    Some(v) => env.push((k.clone(), v.to_string())),
                    None => return Err(Outcome::Unchanged { reason: format!("env {k:?} is not a string") }),
                }
            }
            env
        }
        Some(_) => return unchanged("its \"env\" is not an object"),
    };
    Ok(Stdio { command: command.to_string(), args, env })
}

/// A profile name from a server's name: lowercase letters, digits, `-` and `_`.
fn unique_name(server: &str, used: &mut BTreeSet<String>) -> String {
    let mut base = String::new();
    for c in server.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            base.push(c);
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let base = base.trim_matches('-').to_string();
    let base = if base.is_empty() { "server".to_string() } else { base };
    let mut name = base.clone();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    used.insert(name.clone());
    name
}

struct Wrapped {
    from: String,
    profile: ProfileSpec,
    secrets: Vec<NewSecret>,
    /// Env names removed from the JSON entry (moved to the profile or a secret file).
    moved_env: Vec<String>,
    notes: Vec<String>,
    warnings: Vec<String>,
}

fn wrap_server(
    server: &str,
    profile_name: &str,
    stdio: &Stdio,
    config: &Path,
    config_name: &str,
    kind_label: &str,
    env: &WrapEnv,
) -> Result<Wrapped, String> {
    for (i, a) in stdio.args.iter().enumerate() {
        if secrets::is_client_variable(a) {
            return Err(format!(
                "\"args\" entry {} uses a client variable (${{...}}); a profile's arguments are fixed",
                i + 1
            ));
        }
    }
    if let Some((i, _, why)) = secrets::arg_secrets(&stdio.args).into_iter().next() {
        return Err(format!(
            "\"args\" entry {} looks like a secret ({why}); mcpcell delivers secrets only as environment \
             variables, so configure the server to read it from one, then run wrap again",
            i + 1
        ));
    }
    // Only now, when no argument is a secret, may the parser quote arguments in its reasons.
    let launch: Launch = launch::parse(&stdio.command, &stdio.args, &env.home)?;
    let config = &std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let mut warnings = Vec::new();
    let mut notes = launch.notes.clone();
    let known = match &launch.source {
        Source::Package(p) => profile::known_server(p),
        Source::Interpreter { .. } => None,
    };
    let writes = known.is_some_and(|k| k.writes);

    // Environment: client variables stay in the JSON (the client fills them in and mcpcell
    // passes them on as secrets from its environment); literal secrets go to files; the rest
    // becomes [server] env.
    let mut plain_env = Vec::new();
    let mut secret_entries = Vec::new();
    let mut new_secrets = Vec::new();
    let mut moved_env = Vec::new();
    let mut path_values: Vec<(String, String)> = Vec::new();
    for (k, v) in &stdio.env {
        if !mcpcell_profiles::is_env_name(k) {
            return Err(format!("env name {k:?} is not a valid variable name"));
        }
        if secrets::is_client_variable(v) {
            secret_entries.push((
                k.clone(),
                format!("env:{k}"),
                format!("the client sets it ({k} in the env of {config_name}) when it starts mcpcell"),
            ));
            notes.push(format!(
                "env {k} stays in the config (the client fills in {v}); the profile reads it from mcpcell's \
                 environment as a secret"
            ));
            continue;
        }
        moved_env.push(k.clone());
        match secrets::env_secret_reason(k, v).filter(|_| !v.is_empty()) {
            Some(reason) => {
                let path = env.secrets_dir().join(format!("{profile_name}.{k}"));
                secret_entries.push((
                    k.clone(),
                    format!("file:{}", path.display()),
                    format!("moved out of {} by mcpcell wrap", config.display()),
                ));
                new_secrets.push(NewSecret {
                    server: server.to_string(),
                    var: k.clone(),
                    path,
                    reason,
                    value: SecretValue::new(v.clone()),
                });
            }
            None => {
                if looks_like_path(v) {
                    path_values.push((format!("env {k}"), v.clone()));
                }
                plain_env.push((k.clone(), v.clone()));
            }
        }
    }

    // Filesystem grants: what the launcher needs (script, interpreter prefix), then the
    // paths among the arguments and env values.
    let mut grants: Vec<GrantPlan> = Vec::new();
    let add = |g: GrantPlan, grants: &mut Vec<GrantPlan>| match grants.iter_mut().find(|x| x.path == g.path) {
        Some(existing) => existing.write |= g.write,
        None => grants.push(g),
    };
    if let Source::Interpreter { reads, .. } = &launch.source {
        for r in reads {
            add(GrantPlan { path: r.path.clone(), write: false, why: r.why.clone() }, &mut grants);
        }
    }
    let mut path_grants = false;
    let mut candidates: Vec<(String, String)> = Vec::new();
    for a in &launch.args {
        let value = match a.split_once('=') {
            Some((flag, v)) if flag.starts_with('-') => v,
            _ => a.as_str(),
        };
        if looks_like_path(value) {
            candidates.push((format!("argument {value:?}"), value.to_string()));
        }
    }
    candidates.extend(path_values);
    for (origin, written) in candidates {
        let path = expand(&written, &env.home);
        if path == Path::new("/") {
            return Err(format!(
                "{origin} names the whole filesystem, and granting it defeats the cell; name the directories \
                 the server needs"
            ));
        }
        if path == env.home {
            warnings.push(format!(
                "server {server:?}: {origin} grants the whole home directory {} (including ~/.ssh); narrow it in \
                 the profile",
                path.display()
            ));
        }
        let exists = path.symlink_metadata().is_ok();
        let mut why = origin.clone();
        let granted = if writes && !exists && path.parent().is_some_and(Path::is_dir) {
            why.push_str(", which does not exist yet: its directory");
            path.parent().map(Path::to_path_buf).unwrap_or(path.clone())
        } else {
            if !exists {
                warnings.push(format!(
                    "server {server:?}: {origin} names {}, which does not exist; `mcpcell run {profile_name}` refuses \
                     to start until it does",
                    path.display()
                ));
            }
            path.clone()
        };
        path_grants = true;
        add(GrantPlan { path: granted, write: writes, why }, &mut grants);
    }

    if path_grants {
        notes.push(match known {
            Some(k) if k.writes => format!("its paths are read-write: {}", k.note),
            Some(k) => format!("its paths are read-only: {}", k.note),
            None => "its paths are read-only: the server is not known to need write; move a path to \
                     [filesystem] write if it must change files there"
                .into(),
        });
    }
    let (from, mut spec) = match &launch.source {
        Source::Package(p) => {
            let base = profile::catalogue_entry(p);
            match (&base, &p.version) {
                (None, None) => notes
                    .push(format!("the config names no version of {}: mcpcell pins the one it installs first", p.name)),
                (Some(base), None) => notes.push(format!(
                    "the config names no version of {}: the built-in profile {base:?} decides what runs",
                    p.name
                )),
                _ => {}
            }
            let spec = ProfileSpec {
                package: if base.is_none() || p.version.is_some() { Some(p.spec()) } else { None },
                args: (!launch.args.is_empty() || base.is_none()).then(|| launch.args.clone()),
                egress_hint: base.is_none(),
                extends: base,
                ..Default::default()
            };
            (format!("{} {}", launch.launcher, p.spec()), spec)
        }
        Source::Interpreter { command, lead, .. } => {
            let mut args = lead.clone();
            args.extend(launch.args.iter().cloned());
            let spec = ProfileSpec {
                command: Some(command.clone()),
                args: Some(args),
                egress_hint: true,
                ..Default::default()
            };
            (format!("{} {}", launch.launcher, lead.join(" ")), spec)
        }
    };
    let mut header = vec![format!("Generated by `mcpcell wrap` from {} (server {server:?}).", config.display())];
    match &spec.extends {
        Some(base) => header.push(format!(
            "Extends the built-in profile {base:?} (`mcpcell profiles show {base}`); what is below refines it."
        )),
        None => header.push("Least privilege: no host files and no network beyond what is below.".into()),
    }
    header.extend(notes.iter().cloned());
    header.push(format!("What it allows: `mcpcell explain {profile_name}`; try it: `mcpcell tools {profile_name}`."));
    spec.header = header;
    spec.description = format!("{server} from {} {config_name} ({from}), wrapped by mcpcell wrap", kind_label);
    spec.env = plain_env;
    spec.grants = grants;
    spec.secrets = secret_entries;
    Ok(Wrapped { from, profile: spec, secrets: new_secrets, moved_env, notes, warnings })
}

fn looks_like_path(value: &str) -> bool {
    value.starts_with('/') || value == "~" || value.starts_with("~/")
}

fn expand(written: &str, home: &Path) -> PathBuf {
    match written.strip_prefix('~') {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(written),
    }
}

/// Rewrites one server entry in place: `command`, `args`, and the env entries that moved.
fn edit_entry(entry: &CstObject, profile: &str, moved_env: &[String]) {
    let run =
        CstInputValue::Array(vec![CstInputValue::String("run".into()), CstInputValue::String(profile.to_string())]);
    if let Some(command) = entry.get("command") {
        command.set_value(CstInputValue::String("mcpcell".into()));
    }
    match entry.get("args") {
        Some(args) => args.set_value(run),
        None => {
            let index = entry.get("command").map(|c| c.property_index() + 1).unwrap_or(0);
            entry.insert(index, "args", run);
        }
    }
    if let Some(env) = entry.get("env") {
        let Some(obj) = env.object_value() else { return };
        let props = obj.properties();
        let all_moved = props.iter().all(|p| p.decoded_name().is_some_and(|n| moved_env.contains(&n)));
        if all_moved {
            env.remove();
        } else {
            for p in props {
                if p.decoded_name().is_some_and(|n| moved_env.contains(&n)) {
                    p.remove();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> WrapEnv {
        WrapEnv { home: "/nonexistent-home".into(), config_home: "/nonexistent-config".into() }
    }

    #[test]
    fn secrets_of_untouched_servers_are_redacted_from_the_diff_context() {
        // "left" is not understood (docker), so its token stays in the file, and it sits right
        // next to a changed line: the diff's context must not show it.
        let text = r#"{
  "mcpServers": {
    "left": { "command": "docker", "env": { "API_TOKEN": "tok\"en-with-quote-123" } },
    "right": { "command": "npx", "args": ["-y", "srv"], "env": { "X_KEY": "plainvalue1" } }
  }
}
"#;
        let plan = plan(Path::new("/c/.mcp.json"), text, &env()).unwrap();
        let preview = plan.preview();
        assert!(preview.contains(r#"-    "right": { "command": "npx""#), "{preview}");
        assert!(preview.contains(r#""API_TOKEN": "<redacted>""#), "{preview}");
        assert!(!preview.contains("plainvalue1") && !preview.contains("with-quote"), "{preview}");
        assert_eq!(plan.secrets.len(), 1);
        assert_eq!(plan.secrets[0].value.expose(), "plainvalue1");
        assert!(plan.rewritten.contains("tok\\\"en-with-quote-123"), "the untouched server keeps its value");
        assert!(!plan.rewritten.contains("plainvalue1"));
    }

    #[test]
    fn profile_names_are_safe_and_unique() {
        let mut used = BTreeSet::new();
        assert_eq!(unique_name("My Server/v2", &mut used), "my-server-v2");
        assert_eq!(unique_name("my server v2", &mut used), "my-server-v2-2");
        assert_eq!(unique_name("../..", &mut used), "server");
        assert_eq!(unique_name("a_b", &mut used), "a_b");
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_file() {
        let err = plan(Path::new("/c/x.json"), "{ \"mcpServers\": ", &env()).unwrap_err();
        assert!(err.to_string().starts_with("/c/x.json: not valid JSON"), "{err}");
    }

    #[test]
    fn debug_of_a_plan_shows_no_secret() {
        let text = r#"{"mcpServers": {"s": {"command": "npx", "args": ["x"], "env": {"API_TOKEN": "ghp_debugleak123456"}},
                        "t": {"command": "docker", "env": {"API_TOKEN": "ghp_unmovedleak123456"}}}}"#;
        let plan = plan(Path::new("/c/.mcp.json"), text, &env()).unwrap();
        let shown = format!("{plan:?} {plan:#?}");
        assert!(!shown.contains("debugleak") && !shown.contains("unmovedleak"), "{shown}");
        assert_eq!(plan.secrets.len(), 1, "the control: the secret was found");
    }

    #[test]
    fn claude_code_project_servers_are_reported() {
        let text = r#"{"mcpServers": {}, "projects": {"/p": {"mcpServers": {"a": {"command": "npx", "args": ["x"]}}}, "/q": {}}}"#;
        let plan = plan(Path::new("/h/.claude.json"), text, &env()).unwrap();
        assert_eq!(plan.kind, Some(ClientKind::OtherMcpServers));
        assert!(plan.warnings.iter().any(|w| w.contains("1 project(s)")), "{:?}", plan.warnings);
        assert_eq!(plan.rewritten, text);
    }

    #[test]
    fn an_emptied_env_is_removed() {
        let text = "{\"mcpServers\": {\"s\": {\"command\": \"npx\", \"args\": [\"srv\"], \"env\": {}}}}";
        let plan = plan(Path::new("/c/.mcp.json"), text, &env()).unwrap();
        assert_eq!(plan.rewritten, "{\"mcpServers\": {\"s\": {\"command\": \"mcpcell\", \"args\": [\"run\", \"s\"]}}}");
    }
}
