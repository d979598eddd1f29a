//! The resolved profile: plain data, produced by parsing + `extends` merging + validation.
//! Everything the runtime needs to build a cell is here; nothing here touches processes,
//! namespaces or the network.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a profile came from (for messages and `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A built-in catalogue entry, by name.
    Builtin(String),
    /// A TOML file on disk.
    File(PathBuf),
    /// Built from command-line flags (`mcpcell exec`).
    AdHoc,
}

/// A fully resolved, validated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Short name: the builtin name, the file stem, or "exec".
    pub name: String,
    pub origin: Origin,
    /// Chain of profiles this one extends, nearest first (for `explain`).
    pub extends: Vec<Origin>,
    pub description: Option<String>,
    pub server: Server,
    pub filesystem: Filesystem,
    pub network: Network,
    pub secrets: Vec<Secret>,
    pub limits: Limits,
    pub sandbox: Sandbox,
    /// `[tools]`: which tools the client may see and call, and how the relay treats them.
    pub tools: ToolPolicy,
    /// `[audit]`: where the relay records what happened.
    pub audit: Audit,
}

/// `[server]`: what to run inside the cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Server {
    /// A bare name (looked up in the host's PATH before the cell is built) or an absolute path.
    /// Empty when the server is a [`Server::package`]: the runtime then installs the package and
    /// finds the command from its metadata.
    pub command: String,
    /// `package = "npm:..."` / `"pypi:..."`: the server is this package, installed by mcpcell
    /// outside the cell (mutually exclusive with `command`).
    pub package: Option<crate::package::PackageRef>,
    /// `install_scripts = true`: let the package's install scripts run (inside a cell with no
    /// network). Off by default.
    pub install_scripts: bool,
    /// `i_mean_it = true`: the package name resembles a catalogue package and that is intended.
    pub i_mean_it: bool,
    pub args: Vec<String>,
    /// Literal, non-secret environment values. Secrets go in `[secrets]`.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the cell (absolute, `~` expanded). Defaults to the cell's `$HOME`.
    pub cwd: Option<PathBuf>,
}

/// `[filesystem]`: host paths made visible in the cell, at the same path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filesystem {
    pub read: Vec<PathGrant>,
    pub write: Vec<PathGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGrant {
    /// Absolute, `~` expanded, lexically normalised (no `.`/`..`, no trailing slash).
    pub path: PathBuf,
    /// When true, a missing path is skipped (and `explain` says so) instead of refused.
    pub optional: bool,
}

/// `[network]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    pub egress: Vec<EgressRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EgressRule {
    pub host: HostPattern,
    /// Defaults to 443.
    pub port: u16,
    /// Explicit opt-in (`allow_private = true`, `exec --allow-private-host`) to reach this host
    /// even when it resolves to a loopback, private (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7), link-local (169.254/16, fe80::/10) or multicast address. Off by default: the
    /// egress proxy refuses such destinations, so a granted name cannot be pointed at the
    /// user's machine, LAN or a cloud metadata service.
    pub allow_private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HostPattern {
    /// `api.github.com` (lower-cased, no trailing dot).
    Exact(String),
    /// `*.example.com`: subdomains of `example.com`, never the apex itself.
    Subdomains(String),
}

/// `[secrets.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The table key; also the default env var name it is delivered as.
    pub name: String,
    pub source: SecretSource,
    pub delivery: SecretDelivery,
    /// `ttl_secs`: how long one value may live. A minted credential is asked for with this
    /// lifetime (capped by what the issuer grants); with file delivery every source is
    /// obtained again and the file rewritten at 75% of it. None: the issuer's lifetime, or,
    /// for static sources, no expiry.
    pub ttl_secs: Option<u64>,
}

impl Secret {
    /// The environment variables this secret sets in the server (values or file paths).
    pub fn delivered_vars(&self) -> Vec<&str> {
        match &self.delivery {
            SecretDelivery::Env(var) | SecretDelivery::File { env: var } => vec![var.as_str()],
            SecretDelivery::AwsEnv => AWS_ENV_VARS.to_vec(),
        }
    }

    /// Whether the value comes from an issuer (and so has an issuer-stated lifetime).
    pub fn is_minted(&self) -> bool {
        matches!(self.source, SecretSource::AwsSts(_) | SecretSource::OAuth2(_) | SecretSource::GithubApp(_))
    }
}

/// What `delivery = "env"` sets for an `aws-sts` secret.
pub const AWS_ENV_VARS: [&str; 3] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `env:NAME`: read from the launcher's environment.
    Env(String),
    /// `file:PATH`: read from a file on the host (trailing newline trimmed).
    File(PathBuf),
    /// `source = "command"`: run `argv` on the host (never through a shell; `argv[0]` looked up in
    /// `PATH`) and use its stdout, trimmed. A non-zero exit, a timeout or empty output is an error.
    Command {
        /// Program and arguments; non-empty, no empty strings.
        argv: Vec<String>,
        /// Kill the helper after this many seconds (1 to 300, default 10).
        timeout_secs: u64,
    },
    /// `source = "keyring"`: the OS secret store (Secret Service on Linux), by service and user.
    Keyring { service: String, user: String },
    /// `source = "aws-sts"`: AssumeRole with the launcher's AWS credentials.
    AwsSts(AwsSts),
    /// `source = "oauth2"`: an access token from an OAuth 2.0 token endpoint.
    OAuth2(OAuth2),
    /// `source = "github-app"`: a GitHub App installation token.
    GithubApp(GithubApp),
}

impl SecretSource {
    /// The kind as written in `source` (for messages; never a value).
    pub fn kind(&self) -> &'static str {
        match self {
            SecretSource::Env(_) => "env",
            SecretSource::File(_) => "file",
            SecretSource::Command { .. } => "command",
            SecretSource::Keyring { .. } => "keyring",
            SecretSource::AwsSts(_) => "aws-sts",
            SecretSource::OAuth2(_) => "oauth2",
            SecretSource::GithubApp(_) => "github-app",
        }
    }

    /// How the source is shown in messages, `explain` and `secrets check` (never a value).
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(v) => format!("env:{v}"),
            SecretSource::File(p) => format!("file:{}", p.display()),
            // The program only: arguments may be sensitive-looking (a vault path, a literal).
            SecretSource::Command { argv, .. } => match argv.len() {
                0 | 1 => format!("command `{}`", argv.join(" ")),
                n => format!("command `{}` (and {} argument{})", argv[0], n - 1, if n == 2 { "" } else { "s" }),
            },
            SecretSource::Keyring { service, user } => format!("keyring service {service:?} user {user:?}"),
            SecretSource::AwsSts(a) => format!("aws-sts AssumeRole {} at {}", a.role_arn, a.endpoint),
            SecretSource::OAuth2(o) => {
                let grant = match o.grant {
                    OAuth2Grant::ClientCredentials => "client credentials",
                    OAuth2Grant::TokenExchange { .. } => "token exchange",
                };
                format!("oauth2 {grant} at {}", o.token_url)
            }
            SecretSource::GithubApp(g) => {
                format!("github-app {} installation {} at {}", g.app_id, g.installation_id, g.api_url)
            }
        }
    }
}

/// `source = "aws-sts"`: `sts:AssumeRole` signed (SigV4) with the launcher's own AWS
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN` in
/// mcpcell's environment). `DurationSeconds` is the secret's `ttl_secs` (default 3600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSts {
    pub role_arn: String,
    pub session_name: String,
    /// Inline session policy (JSON): the credentials get the intersection of the role's
    /// policies and this one.
    pub policy: Option<String>,
    /// STS endpoint URL (default `https://sts.amazonaws.com`).
    pub endpoint: String,
    /// Signing region (default `us-east-1`).
    pub region: String,
}

/// `source = "oauth2"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    pub token_url: String,
    pub grant: OAuth2Grant,
    pub client_id: String,
    /// `env:`/`file:`: sent with HTTP Basic authentication; None: a public client.
    pub client_secret: Option<Box<SecretSource>>,
    /// RFC 8707 resource indicators, always sent (at least one).
    pub resource: Vec<String>,
    pub audience: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// RFC 7009 revocation endpoint: the token is revoked there when mcpcell exits.
    pub revocation_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuth2Grant {
    /// `grant = "client_credentials"` (RFC 6749 section 4.4).
    ClientCredentials,
    /// `grant = "token_exchange"` (RFC 8693).
    TokenExchange {
        /// `env:`/`file:`/`command`-free source of the subject token.
        subject_token: Box<SecretSource>,
        subject_token_type: String,
        requested_token_type: Option<String>,
    },
}

/// `source = "github-app"`: a JWT signed (RS256) with the App's private key buys an
/// installation token limited to `repositories` and `permissions`; revoked at exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubApp {
    pub app_id: String,
    pub installation_id: u64,
    /// `env:`/`file:` source of the PEM private key.
    pub private_key: Box<SecretSource>,
    /// Repository names (without the owner) the token is limited to; empty = all the
    /// installation can reach.
    pub repositories: Vec<String>,
    /// Permission name → `read` / `write` / `admin`; empty = the App's permissions.
    pub permissions: BTreeMap<String, String>,
    /// API base (default `https://api.github.com`; GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: String,
}

impl AwsSts {
    pub(crate) fn into_source(self) -> SecretSource {
        SecretSource::AwsSts(self)
    }
}
impl OAuth2 {
    pub(crate) fn into_source(self) -> SecretSource {
        SecretSource::OAuth2(self)
    }
}
impl GithubApp {
    pub(crate) fn into_source(self) -> SecretSource {
        SecretSource::GithubApp(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretDelivery {
    /// Set as this environment variable in the server's environment.
    Env(String),
    /// `aws-sts` with `delivery = "env"`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`.
    AwsEnv,
    /// `delivery = "file"`: a read-only file named after the secret in the cell's secrets
    /// directory (a tmpfs: `/run/mcpcell/secrets/NAME`), rewritten atomically when the value is
    /// refreshed; `env` names the variable holding its path. For `aws-sts` the file is an AWS
    /// shared-credentials file.
    File { env: String },
}

/// `[limits]`, with safe defaults (see `Limits::default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Address-space-ish memory cap (cgroup memory.max where available, else RLIMIT_DATA).
    pub memory_bytes: u64,
    /// Maximum number of processes/threads in the cell.
    pub pids: u64,
    /// CPU time in seconds (RLIMIT_CPU); None = unlimited.
    pub cpu_seconds: Option<u64>,
    /// Largest file the server may write (RLIMIT_FSIZE).
    pub file_size_bytes: u64,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// Size of each private tmpfs (/tmp, $HOME, /dev/shm).
    pub tmpfs_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 2 << 30,
            pids: 512,
            cpu_seconds: None,
            file_size_bytes: 1 << 30,
            open_files: 1024,
            tmpfs_bytes: 256 << 20,
        }
    }
}

/// `[sandbox]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub backend: Backend,
    /// Minimum Landlock ABI the host must offer, else the start is refused.
    /// 0 means Landlock is explicitly optional (shown as a relaxation by `explain`).
    pub landlock_min_abi: u8,
    /// Milliseconds between stdin EOF / a forwarded signal and the next escalation (SIGTERM, SIGKILL).
    pub shutdown_grace_ms: u64,
    /// Container backend only: run from this image's own runtime instead of the host's system
    /// trees (None: mcpcell's base image with the host's /usr bound read-only, as in the jail).
    pub image: Option<String>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox { backend: Backend::Jail, landlock_min_abi: 1, shutdown_grace_ms: 2000, image: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    #[default]
    Jail,
    Container,
}

/// Default for [`ToolPolicy::max_message_bytes`]: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 16 << 20;

/// `[tools]`: tool policy enforced by the MCP-aware relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPolicy {
    /// The profile sets some `[tools]` key (so the relay inspects, even with default values).
    pub inspect: bool,
    /// Globs (`*` any run of characters, `?` one character; nothing else is special).
    /// Empty = every tool.
    pub allow: Vec<String>,
    /// Globs; deny wins over allow.
    pub deny: Vec<String>,
    /// Globs: calls to matching tools run only after the user approves them through an MCP
    /// `elicitation/create` request; refused (with an explanation) when the client did not
    /// declare elicitation support. Never auto-approved. Empty = no confirmation.
    pub confirm: Vec<String>,
    /// Only tools whose `annotations.readOnlyHint` is true are listed and callable.
    pub read_only: bool,
    /// What to do with a tool whose description carries hidden-instruction patterns.
    pub on_poisoned: PoisonAction,
    /// What to do with a tool that is new or changed since the profile's lockfile was written.
    pub pins: PinMode,
    /// Largest JSON-RPC message either side may send, in bytes (default 16 MiB; 1 KiB to 1 GiB).
    pub max_message_bytes: u64,
    /// Seconds a `tools/call` may take before the relay answers the client with an error and
    /// sends the server `notifications/cancelled` (1 to 86400); None = no timeout.
    pub call_timeout_secs: Option<u64>,
    /// Most `tools/call` requests per sliding minute, all tools together (1 to 100000);
    /// None = unlimited.
    pub calls_per_minute: Option<u32>,
    /// Most `tools/call` requests per sliding minute for each tool separately (1 to 100000);
    /// None = unlimited.
    pub tool_calls_per_minute: Option<u32>,
}

impl Default for ToolPolicy {
    fn default() -> Self {
        ToolPolicy {
            inspect: false,
            allow: Vec::new(),
            deny: Vec::new(),
            confirm: Vec::new(),
            read_only: false,
            on_poisoned: PoisonAction::Warn,
            pins: PinMode::Block,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            call_timeout_secs: None,
            calls_per_minute: None,
            tool_calls_per_minute: None,
        }
    }
}

impl ToolPolicy {
    /// Whether the client may see and call `tool`: it matches no deny glob, and matches an
    /// allow glob or the allow list is empty.
    pub fn allows(&self, tool: &str) -> bool {
        if self.deny.iter().any(|p| glob_match(p, tool)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|p| glob_match(p, tool))
    }

    /// Whether a call to `tool` needs the user's approval first: it matches a confirm glob.
    pub fn needs_confirmation(&self, tool: &str) -> bool {
        self.confirm.iter().any(|p| glob_match(p, tool))
    }

    /// Whether this policy asks for the relay: the profile sets any `[tools]` key, or the
    /// policy has an allow, deny or confirm list, is read-only, blocks poisoned tools, or
    /// pins other than `block`.
    /// (With a lockfile present the relay is on regardless; that is the runtime's check.)
    pub fn is_configured(&self) -> bool {
        self.inspect
            || !self.allow.is_empty()
            || !self.deny.is_empty()
            || !self.confirm.is_empty()
            || self.read_only
            || self.on_poisoned == PoisonAction::Block
            || self.pins != PinMode::Block
    }
}

/// `[tools] on_poisoned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoisonAction {
    /// Log the finding and pass the (sanitised) tool through.
    #[default]
    Warn,
    /// Hide the tool from the list and refuse calls to it.
    Block,
}

/// `[tools] pins`: how the relay treats a tool that is new or changed since the profile's
/// lockfile was written (see [`crate::Lockfile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PinMode {
    /// Hide the tool from the list and refuse calls to it.
    #[default]
    Block,
    /// Log the mismatch and pass the tool through.
    Warn,
    /// Trust on first use: with no lockfile yet, write the first `tools/list` as the lockfile;
    /// afterwards like `Block`.
    Tofu,
}

/// Default for [`Audit::max_bytes`]: 10 MiB.
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 10 << 20;

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// JSON-lines audit file (absolute or `~/...`, expanded like filesystem paths);
    /// None = no audit log.
    pub file: Option<PathBuf>,
    /// Size the audit file may reach (default 10 MiB; 4 KiB to 1 TiB): a record that would
    /// take it past this first rotates it to `FILE.1` (one backup kept).
    pub max_bytes: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit { file: None, max_bytes: DEFAULT_AUDIT_MAX_BYTES }
    }
}

/// Glob match over characters (not bytes): `*` matches any run of characters (including
/// none), `?` exactly one character; every other character matches only itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Position of the last `*` seen and the name position it was tried against.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    pi = sp + 1;
                    ni = sn + 1;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
