//! One profile file -> one `Layer`: every key checked (names, types, values) with its location.
//! Cross-key and cross-file checks happen after `extends` merging, in `resolve`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use crate::error::{Location, ProfileError};
use crate::model::{Backend, EgressRule, Origin, PathGrant, PinMode, PoisonAction, SecretSource};
use crate::paths::expand_path;
use crate::raw::{parse_document, Key, Node, Raw};
use crate::size::{format_size, parse_size};

pub(crate) const TOP_KEYS: &[&str] =
    &["description", "extends", "server", "filesystem", "network", "secrets", "limits", "sandbox", "tools", "audit"];
pub(crate) const SERVER_KEYS: &[&str] = &["command", "package", "install_scripts", "i_mean_it", "args", "env", "cwd"];
pub(crate) const FILESYSTEM_KEYS: &[&str] = &["read", "write"];
pub(crate) const GRANT_KEYS: &[&str] = &["path", "optional"];
pub(crate) const NETWORK_KEYS: &[&str] = &["egress"];
pub(crate) const EGRESS_KEYS: &[&str] = &["host", "port", "allow_private"];
pub(crate) const SECRET_KEYS: &[&str] = &[
    "source",
    "env",
    "delivery",
    "ttl_secs",
    "command",
    "timeout_secs",
    // keyring
    "service",
    "user",
    // aws-sts
    "role_arn",
    "session_name",
    "policy",
    "endpoint",
    "region",
    // oauth2
    "token_url",
    "grant",
    "client_id",
    "client_secret",
    "resource",
    "audience",
    "scope",
    "subject_token",
    "subject_token_type",
    "requested_token_type",
    "revocation_url",
    // github-app
    "app_id",
    "installation_id",
    "private_key",
    "repositories",
    "permissions",
    "api_url",
];
/// Source-specific keys whose value is itself a source string (`env:NAME` / `file:PATH`).
pub(crate) const SECRET_SOURCE_PARAMS: &[&str] = &["client_secret", "subject_token", "private_key"];
/// `[secrets.NAME] ttl_secs`.
pub(crate) const SECRET_TTL_RANGE: (u64, u64) = (5, 43200);
pub(crate) const LIMITS_KEYS: &[&str] = &["memory", "pids", "cpu_seconds", "file_size", "open_files", "tmpfs_size"];
pub(crate) const SANDBOX_KEYS: &[&str] = &["backend", "landlock_min_abi", "shutdown_grace_ms", "image"];
pub(crate) const TOOLS_KEYS: &[&str] = &[
    "allow",
    "deny",
    "confirm",
    "read_only",
    "on_poisoned",
    "pins",
    "max_message_bytes",
    "call_timeout_secs",
    "calls_per_minute",
    "tool_calls_per_minute",
];
pub(crate) const AUDIT_KEYS: &[&str] = &["file", "max_bytes"];

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
/// Accepted ranges, chosen so that a typo (a missing unit, an extra digit) is caught.
pub(crate) const MEMORY_RANGE: (u64, u64) = (16 * MIB, TIB);
pub(crate) const FILE_SIZE_RANGE: (u64, u64) = (1, TIB);
pub(crate) const TMPFS_RANGE: (u64, u64) = (MIB, TIB);
/// Linux's PID_MAX_LIMIT.
pub(crate) const PIDS_RANGE: (u64, u64) = (1, 4_194_304);
/// Below 16 even a shell fails; above the kernel's default nr_open cannot be set.
pub(crate) const OPEN_FILES_RANGE: (u64, u64) = (16, 1_048_576);
/// One year of CPU time.
pub(crate) const CPU_SECONDS_RANGE: (u64, u64) = (1, 31_536_000);
pub(crate) const LANDLOCK_ABI_MAX: u64 = 7;
pub(crate) const GRACE_MS_MAX: u64 = 600_000;
pub(crate) const MAX_MESSAGE_RANGE: (u64, u64) = (KIB, GIB);
/// One day.
pub(crate) const CALL_TIMEOUT_RANGE: (u64, u64) = (1, 86_400);
pub(crate) const CALLS_PER_MINUTE_RANGE: (u64, u64) = (1, 100_000);
pub(crate) const AUDIT_MAX_BYTES_RANGE: (u64, u64) = (4 * KIB, TIB);
/// `[secrets.NAME] timeout_secs` for `source = "command"`.
pub(crate) const SECRET_TIMEOUT_RANGE: (u64, u64) = (1, 300);
pub(crate) const SECRET_TIMEOUT_DEFAULT: u64 = 10;

/// A value together with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct At<T> {
    pub value: T,
    pub at: Location,
}

/// A path grant plus the text as written, so messages can quote the user's own spelling.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub grant: PathGrant,
    pub written: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SecretLayer {
    /// The `[secrets.NAME]` key.
    pub at: Location,
    /// For `source = "command"`, a placeholder `Command` whose argv and timeout are filled in by
    /// `resolve` from `command` and `timeout_secs`.
    pub source: Option<At<SourceSpec>>,
    pub env: Option<At<String>>,
    /// `command = [...]`: argv for `source = "command"`, checked non-empty here.
    pub command: Option<At<Vec<String>>>,
    pub timeout_secs: Option<At<u64>>,
    /// `delivery = "env" | "file"`.
    pub delivery: Option<At<String>>,
    pub ttl_secs: Option<At<u64>>,
    /// Keys of the keyring and minted sources, typed by what was written; `resolve` checks
    /// which belong to the source and builds it.
    pub params: BTreeMap<String, At<Param>>,
}

/// A source-specific `[secrets.NAME]` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Str(String),
    Int(u64),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
    /// `client_secret`, `subject_token`, `private_key`: an `env:`/`file:` source.
    Source(SecretSource),
}

/// What `source` says before the source-specific keys are folded in by `resolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceSpec {
    /// `env:`, `file:`, and `command` (a placeholder whose argv is filled in by `resolve`).
    Ready(SecretSource),
    /// `keyring`, `aws-sts`, `oauth2`, `github-app`.
    Kind(&'static str),
}

/// What one file says, before merging. `None` means "not set here".
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub origin: Origin,
    pub file: String,
    pub description: Option<String>,
    pub extends: Option<At<String>>,
    pub command: Option<At<String>>,
    pub package: Option<At<crate::package::PackageRef>>,
    pub install_scripts: Option<bool>,
    pub i_mean_it: Option<bool>,
    pub args: Option<Vec<String>>,
    pub env: BTreeMap<String, At<String>>,
    pub cwd: Option<At<Grant>>,
    pub read: Option<Vec<At<Grant>>>,
    pub write: Option<Vec<At<Grant>>>,
    pub egress: Option<Vec<At<EgressRule>>>,
    pub secrets: BTreeMap<String, SecretLayer>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// `Some(None)`: explicitly unlimited (lifts a parent's cap).
    pub cpu_seconds: Option<Option<u64>>,
    pub file_size: Option<u64>,
    pub open_files: Option<u64>,
    pub tmpfs_size: Option<u64>,
    pub backend: Option<Backend>,
    pub landlock_min_abi: Option<u8>,
    pub shutdown_grace_ms: Option<u64>,
    pub image: Option<String>,
    pub tools_allow: Option<Vec<At<String>>>,
    pub tools_deny: Option<Vec<At<String>>>,
    pub tools_confirm: Option<Vec<At<String>>>,
    pub read_only: Option<bool>,
    pub on_poisoned: Option<PoisonAction>,
    pub pins: Option<PinMode>,
    pub max_message_bytes: Option<u64>,
    pub call_timeout_secs: Option<u64>,
    pub calls_per_minute: Option<u32>,
    pub tool_calls_per_minute: Option<u32>,
    pub audit_file: Option<At<Grant>>,
    pub audit_max_bytes: Option<u64>,
}

/// The display name used in locations: the path, `builtin:NAME` or `<exec>`.
pub(crate) fn source_name(origin: &Origin) -> String {
    match origin {
        Origin::Builtin(name) => format!("builtin:{name}"),
        Origin::File(path) => path.display().to_string(),
        Origin::AdHoc => "<exec>".to_string(),
    }
}

pub(crate) fn parse_layer(text: &str, origin: Origin, home: &Path) -> Result<Layer, ProfileError> {
    let file = source_name(&origin);
    let doc = parse_document(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => Location::at(&file, text, span.start),
            None => Location::start(&file),
        };
        let message = e.message().trim().replace('\n', "; ");
        ProfileError::invalid(location, format!("invalid TOML: {message}; fix the syntax"))
    })?;
    let mut p = Parser {
        src: Src { file: &file, text },
        home,
        layer: Layer {
            origin,
            file: file.clone(),
            description: None,
            extends: None,
            command: None,
            package: None,
            install_scripts: None,
            i_mean_it: None,
            args: None,
            env: BTreeMap::new(),
            cwd: None,
            read: None,
            write: None,
            egress: None,
            secrets: BTreeMap::new(),
            memory: None,
            pids: None,
            cpu_seconds: None,
            file_size: None,
            open_files: None,
            tmpfs_size: None,
            backend: None,
            landlock_min_abi: None,
            image: None,
            shutdown_grace_ms: None,
            tools_allow: None,
            tools_deny: None,
            tools_confirm: None,
            read_only: None,
            on_poisoned: None,
            pins: None,
            max_message_bytes: None,
            call_timeout_secs: None,
            calls_per_minute: None,
            tool_calls_per_minute: None,
            audit_file: None,
            audit_max_bytes: None,
        },
    };
    p.top(&doc)?;
    Ok(p.layer)
}

type Entries = [(Key, Node)];

struct Src<'a> {
    file: &'a str,
    text: &'a str,
}

impl Src<'_> {
    fn loc(&self, span: Range<usize>) -> Location {
        Location::at(self.file, self.text, span.start)
    }

    fn key_loc(&self, key: &Key, value: &Node) -> Location {
        self.loc(key.span.clone().unwrap_or_else(|| value.span()))
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ProfileError {
        ProfileError::invalid(self.loc(span), message)
    }

    fn type_err(&self, what: &str, expected: &str, value: &Node) -> ProfileError {
        let quote = expected == "a string"
            && matches!(value.get_ref(), Raw::Integer(_) | Raw::Float | Raw::Boolean(_) | Raw::Datetime);
        let hint = if quote { "; put the value in quotes" } else { "" };
        self.err(value.span(), format!("{what}: expected {expected}, found {}{hint}", value.get_ref().kind()))
    }

    fn unknown(&self, key: &Key, value: &Node, place: &str, expected: &[&str]) -> ProfileError {
        // A top-level key written after a [table] header lands in that table: say so.
        let hint = if expected != TOP_KEYS && TOP_KEYS.contains(&key.name.as_str()) {
            format!(" (\"{}\" is a top-level key: move it above the first [table] header)", key.name)
        } else {
            String::new()
        };
        ProfileError::invalid(
            self.key_loc(key, value),
            format!("unknown key \"{}\" {place}; expected one of: {}{hint}", key.name, expected.join(", ")),
        )
    }

    fn string(&self, what: &str, value: &Node) -> Result<String, ProfileError> {
        match value.get_ref() {
            Raw::String(s) => Ok(s.clone()),
            _ => Err(self.type_err(what, "a string", value)),
        }
    }

    fn table<'v>(&self, what: &str, value: &'v Node) -> Result<&'v Entries, ProfileError> {
        match value.get_ref() {
            Raw::Table(entries) => Ok(entries),
            _ => Err(self.type_err(what, "a table", value)),
        }
    }

    fn array<'v>(&self, what: &str, value: &'v Node) -> Result<&'v [Node], ProfileError> {
        match value.get_ref() {
            Raw::Array(items) => Ok(items),
            _ => Err(self.type_err(what, "an array", value)),
        }
    }

    /// A non-negative integer within `range` (inclusive).
    fn integer(&self, what: &str, value: &Node, range: (u64, u64), hint: &str) -> Result<u64, ProfileError> {
        let Raw::Integer(n) = value.get_ref() else {
            return Err(self.type_err(what, "an integer", value));
        };
        match u64::try_from(*n) {
            Ok(n) if (range.0..=range.1).contains(&n) => Ok(n),
            _ => Err(self.err(value.span(), format!("{what} = {n} is out of range; use {hint}"))),
        }
    }

    /// A boolean flag.
    fn boolean(&self, what: &str, value: &Node) -> Result<bool, ProfileError> {
        match value.get_ref() {
            Raw::Boolean(b) => Ok(*b),
            _ => Err(self.type_err(what, "a boolean (true or false)", value)),
        }
    }

    /// An egress entry: `"host[:port]"`, or `{ host = "...", port = 5432, allow_private = true }`
    /// with `port` defaulting to 443 (or the port in `host`) and `allow_private` to false.
    fn egress_entry(&self, what: &str, item: &Node) -> Result<At<EgressRule>, ProfileError> {
        let entries = match item.get_ref() {
            Raw::String(entry) => {
                let rule = entry.parse().map_err(|why: String| self.err(item.span(), why))?;
                return Ok(At { value: rule, at: self.loc(item.span()) });
            }
            Raw::Table(entries) => entries,
            _ => {
                return Err(self.type_err(
                    what,
                    "a string \"host[:port]\" or a table { host = \"...\", port = 443, allow_private = true }",
                    item,
                ))
            }
        };
        let (mut host, mut port, mut allow_private) = (None, None, false);
        for (key, v) in entries {
            match key.name.as_str() {
                "host" => host = Some((self.string(&format!("{what}.host"), v)?, v.span())),
                "port" => {
                    let n = self.integer(&format!("{what}.port"), v, (1, 65535), "a port number from 1 to 65535")?;
                    // In range 1..=65535, so the conversion cannot fail.
                    port = Some((u16::try_from(n).unwrap_or(u16::MAX), v.span()));
                }
                "allow_private" => allow_private = self.boolean(&format!("{what}.allow_private"), v)?,
                _ => return Err(self.unknown(key, v, "in a [network] egress entry", EGRESS_KEYS)),
            }
        }
        let Some((written, host_span)) = host else {
            return Err(self.err(
                item.span(),
                format!("{what} has no host; write {{ host = \"db.internal\", port = 5432, allow_private = {allow_private} }}"),
            ));
        };
        let mut rule: EgressRule = written.parse().map_err(|why: String| self.err(host_span, why))?;
        if let Some((port, port_span)) = port {
            if written.contains(':') {
                return Err(self.err(
                    port_span,
                    format!(
                        "{what}: the port is given twice, in host = \"{written}\" and port = {port}; remove \":{}\" from host",
                        rule.port
                    ),
                ));
            }
            rule.port = port;
        }
        rule.allow_private = allow_private;
        Ok(At { value: rule, at: self.loc(item.span()) })
    }

    /// A byte size: `"512MiB"` or an integer number of bytes, within `range`.
    fn size(&self, what: &str, value: &Node, range: (u64, u64)) -> Result<u64, ProfileError> {
        let (bytes, written) = match value.get_ref() {
            Raw::String(s) => {
                let bytes = parse_size(s).map_err(|why| self.err(value.span(), format!("{what} \"{s}\": {why}")))?;
                (bytes, format!("\"{s}\""))
            }
            Raw::Integer(n) => (u64::try_from(*n).unwrap_or(0), n.to_string()),
            _ => {
                return Err(self.type_err(what, "a size (a string like \"512MiB\" or a number of bytes)", value));
            }
        };
        if !(range.0..=range.1).contains(&bytes) {
            return Err(self.err(
                value.span(),
                format!(
                    "{what} = {written} is out of range; use a size from {} to {}",
                    format_size(range.0),
                    format_size(range.1)
                ),
            ));
        }
        Ok(bytes)
    }
}

struct Parser<'a> {
    src: Src<'a>,
    home: &'a Path,
    layer: Layer,
}

impl Parser<'_> {
    fn top(&mut self, doc: &Entries) -> Result<(), ProfileError> {
        for (key, value) in doc {
            match key.name.as_str() {
                "description" => self.layer.description = Some(self.src.string("description", value)?),
                "extends" => {
                    let name = self.src.string("extends", value)?;
                    if name.is_empty() {
                        return Err(self.src.err(
                            value.span(),
                            "extends is empty; name a profile or a .toml file, or remove the line",
                        ));
                    }
                    self.layer.extends = Some(At { value: name, at: self.src.loc(value.span()) });
                }
                "server" => self.server(value)?,
                "filesystem" => self.filesystem(value)?,
                "network" => self.network(value)?,
                "secrets" => self.secrets(value)?,
                "limits" => self.limits(value)?,
                "sandbox" => self.sandbox(value)?,
                "tools" => self.tools(value)?,
                "audit" => self.audit(value)?,
                _ => return Err(self.src.unknown(key, value, "at the top level", TOP_KEYS)),
            }
        }
        Ok(())
    }

    fn server(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        for (key, value) in src.table("server", value)? {
            match key.name.as_str() {
                "command" => {
                    let command = src.string("server.command", value)?;
                    if command.is_empty() || command.contains('\0') {
                        return Err(src.err(
                            value.span(),
                            "server.command must be a program name or an absolute path, like \"mcp-server-everything\"",
                        ));
                    }
                    if command.contains('/') && !command.starts_with('/') {
                        return Err(src.err(
                            value.span(),
                            format!("server.command \"{command}\" is a relative path; use a bare program name (found via PATH) or an absolute path"),
                        ));
                    }
                    if self.layer.package.is_some() {
                        return Err(both_command_and_package(src, value));
                    }
                    self.layer.command = Some(At { value: command, at: src.loc(value.span()) });
                }
                "package" => {
                    let text = src.string("server.package", value)?;
                    let package: crate::package::PackageRef =
                        text.parse().map_err(|why: String| src.err(value.span(), format!("server.package: {why}")))?;
                    if self.layer.command.is_some() {
                        return Err(both_command_and_package(src, value));
                    }
                    self.layer.package = Some(At { value: package, at: src.loc(value.span()) });
                }
                "install_scripts" => {
                    self.layer.install_scripts = Some(src.boolean("server.install_scripts", value)?);
                }
                "i_mean_it" => self.layer.i_mean_it = Some(src.boolean("server.i_mean_it", value)?),
                "args" => {
                    let mut args = Vec::new();
                    for (i, item) in src.array("server.args", value)?.iter().enumerate() {
                        let arg = src.string(&format!("server.args[{i}]"), item)?;
                        if arg.contains('\0') {
                            return Err(
                                src.err(item.span(), format!("server.args[{i}] contains a NUL byte; remove it"))
                            );
                        }
                        args.push(arg);
                    }
                    self.layer.args = Some(args);
                }
                "env" => {
                    for (name_key, val) in src.table("server.env", value)? {
                        let name = &name_key.name;
                        if !is_env_name(name) {
                            return Err(ProfileError::invalid(
                                src.key_loc(name_key, val),
                                format!("server.env: \"{name}\" is not a valid environment variable name; use letters, digits and \"_\", not starting with a digit"),
                            ));
                        }
                        let text = src.string(&format!("server.env.{name}"), val)?;
                        if text.contains('\0') {
                            return Err(
                                src.err(val.span(), format!("server.env.{name} contains a NUL byte; remove it"))
                            );
                        }
                        self.layer.env.insert(name.clone(), At { value: text, at: src.key_loc(name_key, val) });
                    }
                }
                "cwd" => {
                    let written = src.string("server.cwd", value)?;
                    let path = expand_path(&written, self.home)
                        .map_err(|why| src.err(value.span(), format!("server.cwd: {why}")))?;
                    let grant = Grant { grant: PathGrant { path, optional: false }, written };
                    self.layer.cwd = Some(At { value: grant, at: src.loc(value.span()) });
                }
                _ => return Err(src.unknown(key, value, "in [server]", SERVER_KEYS)),
            }
        }
        Ok(())
    }

    fn filesystem(&mut self, value: &Node) -> Result<(), ProfileError> {
        for (key, value) in self.src.table("filesystem", value)? {
            match key.name.as_str() {
                "read" => self.layer.read = Some(self.grants("read", value)?),
                "write" => self.layer.write = Some(self.grants("write", value)?),
                _ => return Err(self.src.unknown(key, value, "in [filesystem]", FILESYSTEM_KEYS)),
            }
        }
        Ok(())
    }

    /// `["~/a", { path = "~/b", optional = true }]`.
    fn grants(&self, list: &str, value: &Node) -> Result<Vec<At<Grant>>, ProfileError> {
        let src = &self.src;
        let mut grants = Vec::new();
        for (i, item) in src.array(&format!("filesystem.{list}"), value)?.iter().enumerate() {
            let what = format!("filesystem.{list}[{i}]");
            let (written, span, optional) = match item.get_ref() {
                Raw::String(s) => (s.clone(), item.span(), false),
                Raw::Table(entries) => {
                    let (mut path, mut optional) = (None, false);
                    for (key, v) in entries {
                        match key.name.as_str() {
                            "path" => path = Some((src.string(&format!("{what}.path"), v)?, v.span())),
                            "optional" => optional = src.boolean(&format!("{what}.optional"), v)?,
                            _ => {
                                return Err(src.unknown(
                                    key,
                                    v,
                                    &format!("in a [filesystem] {list} entry"),
                                    GRANT_KEYS,
                                ));
                            }
                        }
                    }
                    let Some((path, span)) = path else {
                        return Err(src.err(
                            item.span(),
                            format!("{what} has no path; write {{ path = \"~/dir\", optional = {optional} }}"),
                        ));
                    };
                    (path, span, optional)
                }
                _ => {
                    return Err(src.type_err(
                        &what,
                        "a path string or a table { path = \"...\", optional = true }",
                        item,
                    ))
                }
            };
            let path = expand_path(&written, self.home).map_err(|why| src.err(span.clone(), why))?;
            if path == Path::new("/") {
                return Err(src.err(
                    span,
                    format!("path \"{written}\": granting the whole filesystem defeats the cell; grant only the directories the server needs"),
                ));
            }
            grants.push(At { value: Grant { grant: PathGrant { path, optional }, written }, at: src.loc(span) });
        }
        Ok(grants)
    }

    fn network(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        for (key, value) in src.table("network", value)? {
            match key.name.as_str() {
                "egress" => {
                    let mut rules = Vec::new();
                    for (i, item) in src.array("network.egress", value)?.iter().enumerate() {
                        rules.push(src.egress_entry(&format!("network.egress[{i}]"), item)?);
                    }
                    self.layer.egress = Some(rules);
                }
                _ => return Err(src.unknown(key, value, "in [network]", NETWORK_KEYS)),
            }
        }
        Ok(())
    }

    fn secrets(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        for (name_key, table) in src.table("secrets", value)? {
            let name = &name_key.name;
            let Raw::Table(entries) = table.get_ref() else {
                // Never echo the value: it may be the secret itself.
                return Err(src.err(
                    table.span(),
                    format!("secrets.{name} must be a table, not {} (secret values never go in a profile); write [secrets.{name}] with source = \"env:...\" or \"file:...\"", table.get_ref().kind()),
                ));
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(ProfileError::invalid(src.key_loc(name_key, table), format!("secret name {name:?} is empty or has spaces; name it like its environment variable, e.g. [secrets.GITHUB_TOKEN]")));
            }
            let mut secret = SecretLayer {
                at: src.key_loc(name_key, table),
                source: None,
                env: None,
                command: None,
                timeout_secs: None,
                delivery: None,
                ttl_secs: None,
                params: BTreeMap::new(),
            };
            for (key, v) in entries {
                match key.name.as_str() {
                    "source" => {
                        let text = src.string(&format!("secrets.{name}.source"), v)?;
                        let source = parse_source(&text, self.home)
                            .map_err(|why| src.err(v.span(), format!("secrets.{name}.source: {why}")))?;
                        secret.source = Some(At { value: source, at: src.loc(v.span()) });
                    }
                    "env" => {
                        let env = src.string(&format!("secrets.{name}.env"), v)?;
                        if !is_env_name(&env) {
                            return Err(src.err(v.span(), format!("secrets.{name}.env: \"{env}\" is not a valid environment variable name; use letters, digits and \"_\", not starting with a digit")));
                        }
                        secret.env = Some(At { value: env, at: src.loc(v.span()) });
                    }
                    "command" => {
                        let what = format!("secrets.{name}.command");
                        let items = src.array(&what, v)?;
                        if items.is_empty() {
                            return Err(src.err(v.span(), format!("{what} is empty; write the program and its arguments, like command = [\"gh\", \"auth\", \"token\"]")));
                        }
                        let mut argv = Vec::new();
                        for (i, item) in items.iter().enumerate() {
                            let arg = src.string(&format!("{what}[{i}]"), item)?;
                            if arg.is_empty() {
                                return Err(src.err(item.span(), format!("{what}[{i}] is an empty string; remove it (the command runs without a shell, so every entry is one argument)")));
                            }
                            argv.push(arg);
                        }
                        secret.command = Some(At { value: argv, at: src.loc(v.span()) });
                    }
                    "timeout_secs" => {
                        let n = src.integer(
                            &format!("secrets.{name}.timeout_secs"),
                            v,
                            SECRET_TIMEOUT_RANGE,
                            "a number of seconds from 1 to 300",
                        )?;
                        secret.timeout_secs = Some(At { value: n, at: src.loc(v.span()) });
                    }
                    "delivery" => {
                        let d = src.string(&format!("secrets.{name}.delivery"), v)?;
                        if d != "env" && d != "file" {
                            return Err(src.err(v.span(), format!("secrets.{name}.delivery = \"{d}\": use \"env\" (an environment variable) or \"file\" (a file on a tmpfs in the cell, its path in an environment variable)")));
                        }
                        secret.delivery = Some(At { value: d, at: src.loc(v.span()) });
                    }
                    "ttl_secs" => {
                        let n = src.integer(
                            &format!("secrets.{name}.ttl_secs"),
                            v,
                            SECRET_TTL_RANGE,
                            "a number of seconds from 5 to 43200 (12 hours)",
                        )?;
                        secret.ttl_secs = Some(At { value: n, at: src.loc(v.span()) });
                    }
                    "value" => {
                        return Err(ProfileError::invalid(
                            src.key_loc(key, v),
                            "secret values never go in a profile; use source = \"env:...\" or \"file:...\"",
                        ));
                    }
                    other if SECRET_KEYS.contains(&other) => {
                        let what = format!("secrets.{name}.{other}");
                        let param = self.secret_param(&what, other, v)?;
                        secret.params.insert(other.to_string(), At { value: param, at: src.key_loc(key, v) });
                    }
                    _ => return Err(src.unknown(key, v, &format!("in [secrets.{name}]"), SECRET_KEYS)),
                }
            }
            self.layer.secrets.insert(name.clone(), secret);
        }
        Ok(())
    }

    /// A source-specific key, typed by what was written (checked against the source later).
    fn secret_param(&self, what: &str, key: &str, v: &Node) -> Result<Param, ProfileError> {
        let src = &self.src;
        if SECRET_SOURCE_PARAMS.contains(&key) {
            let text = src.string(what, v)?;
            return match parse_source(&text, self.home) {
                Ok(SourceSpec::Ready(s @ (SecretSource::Env(_) | SecretSource::File(_)))) => Ok(Param::Source(s)),
                Ok(_) => {
                    Err(src
                        .err(v.span(), format!("{what}: write \"env:NAME\" or \"file:PATH\" (where mcpcell reads it)")))
                }
                Err(why) => Err(src.err(v.span(), format!("{what}: {why}"))),
            };
        }
        match v.get_ref() {
            Raw::String(s) if !s.is_empty() => Ok(Param::Str(s.clone())),
            Raw::String(_) => Err(src.err(v.span(), format!("{what} is empty; remove it or give a value"))),
            Raw::Integer(n) => u64::try_from(*n)
                .map(Param::Int)
                .map_err(|_| src.err(v.span(), format!("{what} = {n}: expected a positive integer"))),
            Raw::Array(items) => {
                let mut list = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let s = src.string(&format!("{what}[{i}]"), item)?;
                    if s.is_empty() {
                        return Err(src.err(item.span(), format!("{what}[{i}] is an empty string; remove it")));
                    }
                    list.push(s);
                }
                Ok(Param::List(list))
            }
            Raw::Table(entries) => {
                let mut map = BTreeMap::new();
                for (k, item) in entries {
                    map.insert(k.name.clone(), src.string(&format!("{what}.{}", k.name), item)?);
                }
                Ok(Param::Map(map))
            }
            _ => Err(src.type_err(what, "a string", v)),
        }
    }

    fn limits(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        let l = &mut self.layer;
        for (key, v) in src.table("limits", value)? {
            match key.name.as_str() {
                "memory" => l.memory = Some(src.size("limits.memory", v, MEMORY_RANGE)?),
                "file_size" => l.file_size = Some(src.size("limits.file_size", v, FILE_SIZE_RANGE)?),
                "tmpfs_size" => l.tmpfs_size = Some(src.size("limits.tmpfs_size", v, TMPFS_RANGE)?),
                "pids" => l.pids = Some(src.integer("limits.pids", v, PIDS_RANGE, "a number from 1 to 4194304")?),
                "open_files" => {
                    l.open_files =
                        Some(src.integer("limits.open_files", v, OPEN_FILES_RANGE, "a number from 16 to 1048576")?);
                }
                "cpu_seconds" => {
                    l.cpu_seconds = Some(match v.get_ref() {
                        Raw::String(s) if s == "unlimited" => None,
                        Raw::Integer(_) => Some(src.integer(
                            "limits.cpu_seconds",
                            v,
                            CPU_SECONDS_RANGE,
                            "a number of seconds from 1 to 31536000, or \"unlimited\"",
                        )?),
                        _ => {
                            return Err(src.type_err(
                                "limits.cpu_seconds",
                                "an integer number of seconds or \"unlimited\"",
                                v,
                            ))
                        }
                    });
                }
                _ => return Err(src.unknown(key, v, "in [limits]", LIMITS_KEYS)),
            }
        }
        Ok(())
    }

    fn sandbox(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        let l = &mut self.layer;
        for (key, v) in src.table("sandbox", value)? {
            match key.name.as_str() {
                "backend" => {
                    l.backend = Some(match src.string("sandbox.backend", v)?.as_str() {
                        "jail" => Backend::Jail,
                        "container" => Backend::Container,
                        other => {
                            return Err(src.err(
                                v.span(),
                                format!("sandbox.backend \"{other}\" is not a backend; use \"jail\" or \"container\""),
                            ));
                        }
                    });
                }
                "landlock_min_abi" => {
                    let abi = src.integer(
                        "sandbox.landlock_min_abi",
                        v,
                        (0, LANDLOCK_ABI_MAX),
                        "1 to 7, or 0 to make Landlock optional",
                    )?;
                    // In range 0..=7, so the conversion cannot fail.
                    l.landlock_min_abi = Some(u8::try_from(abi).unwrap_or(u8::MAX));
                }
                "shutdown_grace_ms" => {
                    l.shutdown_grace_ms = Some(src.integer(
                        "sandbox.shutdown_grace_ms",
                        v,
                        (0, GRACE_MS_MAX),
                        "a number of milliseconds from 0 to 600000",
                    )?);
                }
                "image" => {
                    let image = src.string("sandbox.image", v)?;
                    let ok =
                        !image.is_empty() && image.chars().all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c));
                    if !ok {
                        return Err(src.err(
                            v.span(),
                            format!(
                                "sandbox.image {image:?} is not an image reference (e.g. \"mcpcell/node:0.1.0-3\")"
                            ),
                        ));
                    }
                    l.image = Some(image);
                }
                _ => return Err(src.unknown(key, v, "in [sandbox]", SANDBOX_KEYS)),
            }
        }
        Ok(())
    }
}

impl Parser<'_> {
    fn tools(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        let l = &mut self.layer;
        for (key, v) in src.table("tools", value)? {
            match key.name.as_str() {
                "allow" => l.tools_allow = Some(globs(src, "tools.allow", v)?),
                "deny" => l.tools_deny = Some(globs(src, "tools.deny", v)?),
                "confirm" => l.tools_confirm = Some(globs(src, "tools.confirm", v)?),
                "read_only" => l.read_only = Some(src.boolean("tools.read_only", v)?),
                "on_poisoned" => {
                    l.on_poisoned = Some(match src.string("tools.on_poisoned", v)?.as_str() {
                        "warn" => PoisonAction::Warn,
                        "block" => PoisonAction::Block,
                        other => {
                            return Err(src.err(
                                v.span(),
                                format!("tools.on_poisoned \"{other}\" is not an action; use \"warn\" or \"block\""),
                            ));
                        }
                    });
                }
                "pins" => {
                    l.pins = Some(match src.string("tools.pins", v)?.as_str() {
                        "block" => PinMode::Block,
                        "warn" => PinMode::Warn,
                        "tofu" => PinMode::Tofu,
                        other => {
                            return Err(src.err(
                                v.span(),
                                format!(
                                    "tools.pins \"{other}\" is not a pin mode; use \"block\", \"warn\" or \"tofu\""
                                ),
                            ));
                        }
                    });
                }
                "max_message_bytes" => {
                    l.max_message_bytes = Some(src.size("tools.max_message_bytes", v, MAX_MESSAGE_RANGE)?);
                }
                "call_timeout_secs" => {
                    l.call_timeout_secs = Some(src.integer(
                        "tools.call_timeout_secs",
                        v,
                        CALL_TIMEOUT_RANGE,
                        "a number of seconds from 1 to 86400, or leave it out for no timeout",
                    )?);
                }
                "calls_per_minute" => {
                    l.calls_per_minute = Some(calls_per_minute(src, "tools.calls_per_minute", v)?);
                }
                "tool_calls_per_minute" => {
                    l.tool_calls_per_minute = Some(calls_per_minute(src, "tools.tool_calls_per_minute", v)?);
                }
                _ => return Err(src.unknown(key, v, "in [tools]", TOOLS_KEYS)),
            }
        }
        Ok(())
    }

    fn audit(&mut self, value: &Node) -> Result<(), ProfileError> {
        let src = &self.src;
        for (key, v) in src.table("audit", value)? {
            match key.name.as_str() {
                "file" => {
                    let written = src.string("audit.file", v)?;
                    let path = expand_path(&written, self.home)
                        .map_err(|why| src.err(v.span(), format!("audit.file: {why}")))?;
                    if path == Path::new("/") || path == self.home || written.ends_with('/') {
                        return Err(src.err(
                            v.span(),
                            "audit.file names a directory; name a file, like \"~/.local/state/mcpcell/audit.jsonl\"",
                        ));
                    }
                    let grant = Grant { grant: PathGrant { path, optional: false }, written };
                    self.layer.audit_file = Some(At { value: grant, at: src.loc(v.span()) });
                }
                "max_bytes" => {
                    self.layer.audit_max_bytes = Some(src.size("audit.max_bytes", v, AUDIT_MAX_BYTES_RANGE)?);
                }
                _ => return Err(src.unknown(key, v, "in [audit]", AUDIT_KEYS)),
            }
        }
        Ok(())
    }
}

fn both_command_and_package(src: &Src, value: &Node) -> ProfileError {
    src.err(
        value.span(),
        "[server] has both command and package; a server is either a package mcpcell installs (package = \"npm:...\" or \"pypi:...\") or a command already on the host: remove one",
    )
}

/// A `tools.*calls_per_minute` rate: 1 to 100000 calls per sliding minute.
fn calls_per_minute(src: &Src, what: &str, value: &Node) -> Result<u32, ProfileError> {
    let n = src.integer(
        what,
        value,
        CALLS_PER_MINUTE_RANGE,
        "a number of calls from 1 to 100000, or leave it out for no limit",
    )?;
    // In range 1..=100000, so the conversion cannot fail.
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// An array of tool-name globs: non-empty strings without control or invisible characters.
fn globs(src: &Src<'_>, what: &str, value: &Node) -> Result<Vec<At<String>>, ProfileError> {
    let mut out = Vec::new();
    for (i, item) in src.array(what, value)?.iter().enumerate() {
        let pattern = src.string(&format!("{what}[{i}]"), item)?;
        if pattern.is_empty() {
            return Err(
                src.err(item.span(), format!("{what}[{i}] is empty; write a tool name or a glob like \"read_*\""))
            );
        }
        if let Some(c) = pattern.chars().find(|&c| c.is_control() || is_invisible(c)) {
            return Err(src.err(
                item.span(),
                format!(
                    "{what}[{i}] contains the control or invisible character U+{:04X}; tool names and globs are printable text",
                    u32::from(c)
                ),
            ));
        }
        out.push(At { value: pattern, at: src.loc(item.span()) });
    }
    Ok(out)
}

/// Zero-width, bidi-control and other format characters that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `env:NAME`, `file:PATH`, `command` (argv filled in later by `resolve`), or a bare kind
/// (`keyring`, `aws-sts`, `oauth2`, `github-app`) whose keys `resolve` folds in.
/// The error never repeats text that could be the secret itself.
pub(crate) fn parse_source(text: &str, home: &Path) -> Result<SourceSpec, String> {
    let supported = "supported: env, file, command, keyring, aws-sts, oauth2, github-app";
    let (kind, rest) = match text.split_once(':') {
        Some((kind, rest)) => (kind, Some(rest)),
        None => (text, None),
    };
    match (kind, rest) {
        ("env", Some(name)) if is_env_name(name) => Ok(SourceSpec::Ready(SecretSource::Env(name.to_string()))),
        ("env", Some(name)) => Err(format!(
            "\"{name}\" is not a valid environment variable name; write source = \"env:NAME\", like \"env:GH_TOKEN\""
        )),
        ("file", Some(path)) => {
            let path = expand_path(path, home).map_err(|why| format!("file source: {why}"))?;
            Ok(SourceSpec::Ready(SecretSource::File(path)))
        }
        ("command", None) => {
            Ok(SourceSpec::Ready(SecretSource::Command { argv: Vec::new(), timeout_secs: SECRET_TIMEOUT_DEFAULT }))
        }
        ("command", Some(_)) => Err(
            "a command source is written source = \"command\" with its argv in command = [\"program\", \"arg\", ...] (no shell)"
                .to_string(),
        ),
        ("keyring", None) => Ok(SourceSpec::Kind("keyring")),
        ("aws-sts", None) => Ok(SourceSpec::Kind("aws-sts")),
        ("oauth2", None) => Ok(SourceSpec::Kind("oauth2")),
        ("github-app", None) => Ok(SourceSpec::Kind("github-app")),
        ("keyring" | "aws-sts" | "oauth2" | "github-app", Some(_)) => Err(format!(
            "write source = \"{kind}\" alone; its settings go in their own keys of this [secrets] table"
        )),
        // A kind is short and lower-case; anything else may be a pasted token, so not echoed.
        (kind, _)
            if !kind.is_empty()
                && kind.len() <= 24
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Err(format!("unknown source kind \"{kind}\"; {supported}"))
        }
        _ => Err(format!(
            "a source is \"env:NAME\", \"file:PATH\", \"command\" or a kind such as \"oauth2\" ({supported}); never the secret value itself"
        )),
    }
}
