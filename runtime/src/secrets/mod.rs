//! Secrets: where values come from (static sources and minting issuers), how they reach the
//! server (env or a file on a tmpfs), refreshing them before they expire, revoking minted ones
//! at exit, and the registry of every value handed out, which the relay redacts from what the
//! server sends back.
//!
//! Nothing here prints, logs or returns a value in an error: errors name the secret and its
//! source. [`SecretValue`]'s Debug is `<redacted>`.

mod aws;
mod files;
mod github;
mod http;
mod keyring;
mod oauth2;
mod source;

pub use files::{SecretDir, SecretFile, SecretFilesPlan, CELL_SECRETS_DIR};
pub use keyring::{helper_main as keyring_helper_main, HELPER_ARG as KEYRING_HELPER_ARG};
pub use source::EnvLookup;

use crate::error::RuntimeError;
use crate::relay::redact::Redactor;
use mcpcell_profiles::{Secret, SecretDelivery, SecretSource};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

/// Log targets of the crates that talk to issuers and keyrings. Their debug/trace output can
/// include request headers or signing material, so the binary turns them off at every level.
pub const QUIET_LOG_TARGETS: &[&str] = &[
    "ureq",
    "ureq_proto",
    "rustls",
    "aws_sigv4",
    "aws_smithy_runtime_api",
    "aws_credential_types",
    "jsonwebtoken",
    "keyring",
    "secret_service",
    "zbus",
];

/// A secret's value. Its Debug never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a source yields.
#[derive(Clone)]
pub enum Material {
    Token(SecretValue),
    Aws { access_key_id: SecretValue, secret_access_key: SecretValue, session_token: SecretValue },
}

impl Material {
    fn values(&self) -> Vec<&SecretValue> {
        match self {
            Material::Token(v) => vec![v],
            Material::Aws { access_key_id, secret_access_key, session_token } => {
                vec![access_key_id, secret_access_key, session_token]
            }
        }
    }

    /// The file's contents: the value itself, or an AWS shared-credentials file.
    fn file_contents(&self) -> Vec<u8> {
        match self {
            Material::Token(v) => v.expose().as_bytes().to_vec(),
            Material::Aws { access_key_id, secret_access_key, session_token } => format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
                access_key_id.expose(),
                secret_access_key.expose(),
                session_token.expose()
            )
            .into_bytes(),
        }
    }

    /// Length in characters, for `secrets check` (the only thing it says about a value).
    pub fn chars(&self) -> usize {
        self.values().iter().map(|v| v.expose().chars().count()).sum()
    }
}

/// One obtained value (set) of a secret.
pub struct Credential {
    pub material: Material,
    /// When the issuer (or the profile's `ttl_secs`) says it stops working.
    pub expires_at: Option<SystemTime>,
    /// How to revoke it at exit, when the issuer supports that.
    pub revoke: Option<Revocation>,
}

/// How to revoke a minted credential.
#[derive(Clone)]
pub enum Revocation {
    OAuth2 { url: String, client_id: String, client_secret: Option<SecretValue>, token: SecretValue },
    GitHub { api_url: String, token: SecretValue },
}

impl Revocation {
    fn run(&self) -> Result<String, String> {
        match self {
            Revocation::OAuth2 { url, client_id, client_secret, token } => {
                oauth2::revoke(url, client_id, client_secret.as_ref(), token).map(|()| url.clone())
            }
            Revocation::GitHub { api_url, token } => github::revoke(api_url, token).map(|()| api_url.clone()),
        }
    }
}

/// Obtain one secret now: read it, or mint it. Errors name the secret and the source.
pub fn obtain(secret: &Secret, env: EnvLookup<'_>) -> Result<Credential, RuntimeError> {
    let result = match &secret.source {
        SecretSource::AwsSts(sts) => aws::assume_role(sts, secret.ttl_secs, env),
        SecretSource::OAuth2(o) => oauth2::mint(o, env),
        SecretSource::GithubApp(app) => github::mint(app, env),
        other => source::read(other, env).map(|v| Credential {
            material: Material::Token(SecretValue::new(v)),
            expires_at: None,
            revoke: None,
        }),
    };
    let mut credential = result.map_err(|reason| RuntimeError::Secret { name: secret.name.clone(), reason })?;
    if let Some(ttl) = secret.ttl_secs {
        let cap = SystemTime::now() + Duration::from_secs(ttl);
        credential.expires_at = Some(credential.expires_at.map_or(cap, |e| e.min(cap)));
    }
    Ok(credential)
}

/// How many values of one secret stay redacted (the current one and those it replaced).
pub const KEEP_VALUES_PER_SECRET: usize = 16;

/// Every value handed to the server, for the relay's redaction: a refreshed secret's older
/// values stay redacted (the newest [`KEEP_VALUES_PER_SECRET`] of each).
#[derive(Clone)]
pub struct Registry(Arc<RegistryInner>);

struct RegistryInner {
    values: Mutex<Vec<(String, String)>>,
    current: RwLock<Arc<Redactor>>,
}

impl Registry {
    pub fn new(values: Vec<(String, SecretValue)>) -> Self {
        let values: Vec<(String, String)> = values.into_iter().map(|(k, v)| (k, v.0)).collect();
        let redactor = Arc::new(Redactor::new(&values));
        Registry(Arc::new(RegistryInner { values: Mutex::new(values), current: RwLock::new(redactor) }))
    }

    pub fn add(&self, label: &str, value: &SecretValue) {
        let mut values = self.0.values.lock().unwrap_or_else(|e| e.into_inner());
        if values.iter().any(|(_, v)| *v == value.0) {
            return;
        }
        values.push((label.to_string(), value.0.clone()));
        // A long-running cell refreshing often would otherwise grow this without bound: keep
        // the newest values of each secret (older ones have long expired).
        let of_label = values.iter().filter(|(l, _)| l == label).count();
        if of_label > KEEP_VALUES_PER_SECRET {
            if let Some(oldest) = values.iter().position(|(l, _)| l == label) {
                values.remove(oldest);
            }
        }
        let redactor = Arc::new(Redactor::new(&values));
        *self.0.current.write().unwrap_or_else(|e| e.into_inner()) = redactor;
    }

    /// The redactor for every value registered so far.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.0.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}

impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Registry {}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.0.values.lock().unwrap_or_else(|e| e.into_inner());
        let labels: Vec<&str> = values.iter().map(|(l, _)| l.as_str()).collect();
        f.debug_struct("Registry").field("labels", &labels).finish()
    }
}

/// What `secrets check` and `explain` say about one obtained secret.
#[derive(Debug, Clone)]
pub struct SecretStatus {
    pub name: String,
    pub source: String,
    pub delivery: String,
    pub chars: usize,
    pub expires_at: Option<SystemTime>,
    /// When the file will be rewritten (file delivery of an expiring secret).
    pub refresh_at: Option<SystemTime>,
}

/// The secrets of one cell: obtained before it starts, delivered, refreshed while it runs,
/// revoked and removed when the last handle goes (the launcher exits).
#[derive(Clone)]
pub struct Secrets(Arc<Inner>);

struct Inner {
    slots: Vec<Slot>,
    /// (env var, value) for env deliveries, in profile order.
    env: Vec<(String, SecretValue)>,
    files: Option<SecretFilesPlan>,
    dir: Option<SecretDir>,
    registry: Registry,
    /// The launcher's environment as it was at start (for refreshes).
    env_snapshot: BTreeMap<String, String>,
    /// Minted credentials to revoke at exit, with their expiry.
    /// Every minted credential handed out (replaced ones too): all are revoked at exit.
    minted: Mutex<Vec<(String, Revocation)>>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    refresher: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Slot {
    secret: Secret,
    state: Mutex<SlotState>,
}

struct SlotState {
    obtained_at: SystemTime,
    expires_at: Option<SystemTime>,
    chars: usize,
    /// After a failed refresh: when to try again.
    retry_at: Option<SystemTime>,
}

impl SlotState {
    /// 75% into the value's life; None when it does not expire.
    fn refresh_at(&self) -> Option<SystemTime> {
        let expires = self.expires_at?;
        let life = expires.duration_since(self.obtained_at).unwrap_or(Duration::ZERO);
        let due = self.obtained_at + life.mul_f64(0.75);
        Some(self.retry_at.map_or(due, |r| r.max(due)))
    }
}

impl Secrets {
    /// No secrets.
    pub fn none() -> Self {
        Self::fixed(Vec::new())
    }

    /// Fixed env deliveries (for plans built in tests, and `exec`).
    pub fn fixed(env: Vec<(String, SecretValue)>) -> Self {
        let registry = Registry::new(env.clone());
        Secrets(Arc::new(Inner {
            slots: Vec::new(),
            env,
            files: None,
            dir: None,
            registry,
            env_snapshot: BTreeMap::new(),
            minted: Mutex::new(Vec::new()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            refresher: Mutex::new(None),
        }))
    }

    /// The shape of the profile's secrets without obtaining any (for `explain`): the env
    /// variables they will set (with empty placeholder values) and the file plan (with a
    /// placeholder host directory). Nothing runs, nothing is minted, nothing is created.
    pub fn described(secrets: &[Secret]) -> Self {
        let mut env = Vec::new();
        let mut files = Vec::new();
        for s in secrets {
            match &s.delivery {
                SecretDelivery::File { env } => {
                    files.push(SecretFile { secret: s.name.clone(), file_name: s.name.clone(), env: env.clone() })
                }
                _ => {
                    env.extend(s.delivered_vars().into_iter().map(|v| (v.to_string(), SecretValue::new(String::new()))))
                }
            }
        }
        let files = (!files.is_empty()).then(|| SecretFilesPlan {
            host_dir: "(a private tmpfs directory created at start)".into(),
            cell_dir: CELL_SECRETS_DIR.into(),
            files,
        });
        Secrets(Arc::new(Inner {
            slots: Vec::new(),
            env,
            files,
            dir: None,
            registry: Registry::new(Vec::new()),
            env_snapshot: BTreeMap::new(),
            minted: Mutex::new(Vec::new()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            refresher: Mutex::new(None),
        }))
    }

    /// Obtain every secret (all of them, or the start is refused) and deliver the file ones.
    /// On failure, whatever was minted so far is revoked and the directory removed.
    pub fn obtain(secrets: &[Secret], env: EnvLookup<'_>) -> Result<Self, RuntimeError> {
        let env_snapshot: BTreeMap<String, String> =
            referenced_vars(secrets).into_iter().filter_map(|k| env(&k).map(|v| (k, v))).collect();
        let needs_dir = secrets.iter().any(|s| matches!(s.delivery, SecretDelivery::File { .. }));
        let dir = match needs_dir {
            true => {
                let runtime = env("XDG_RUNTIME_DIR").map(std::path::PathBuf::from).filter(|p| p.is_absolute());
                let dir = SecretDir::create(runtime.as_deref()).map_err(|reason| RuntimeError::Secret {
                    name: secrets
                        .iter()
                        .filter(|s| matches!(s.delivery, SecretDelivery::File { .. }))
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    reason,
                })?;
                Some(dir)
            }
            false => None,
        };
        let files = dir.as_ref().map(|d| SecretFilesPlan {
            host_dir: d.path().to_path_buf(),
            cell_dir: CELL_SECRETS_DIR.into(),
            files: secrets
                .iter()
                .filter_map(|s| match &s.delivery {
                    SecretDelivery::File { env } => {
                        Some(SecretFile { secret: s.name.clone(), file_name: s.name.clone(), env: env.clone() })
                    }
                    _ => None,
                })
                .collect(),
        });
        let mut inner = Inner {
            slots: Vec::new(),
            env: Vec::new(),
            files,
            dir,
            registry: Registry::new(Vec::new()),
            env_snapshot,
            minted: Mutex::new(Vec::new()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            refresher: Mutex::new(None),
        };
        for secret in secrets {
            // On `?` the partly built `inner` drops: revokes and removes what exists so far.
            let credential = obtain(secret, env)?;
            inner.deliver(secret, &credential, true)?;
            inner.slots.push(Slot {
                secret: secret.clone(),
                state: Mutex::new(SlotState {
                    obtained_at: SystemTime::now(),
                    expires_at: credential.expires_at,
                    chars: credential.material.chars(),
                    retry_at: None,
                }),
            });
        }
        Ok(Secrets(Arc::new(inner)))
    }

    /// (env var, value) pairs for the server's environment.
    pub fn env_values(&self) -> &[(String, SecretValue)] {
        &self.0.env
    }

    pub fn files_plan(&self) -> Option<&SecretFilesPlan> {
        self.0.files.as_ref()
    }

    pub fn registry(&self) -> Registry {
        self.0.registry.clone()
    }

    pub fn is_empty(&self) -> bool {
        self.0.env.is_empty() && self.0.files.is_none()
    }

    pub fn status(&self) -> Vec<SecretStatus> {
        self.0
            .slots
            .iter()
            .map(|slot| {
                let st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                let file = matches!(slot.secret.delivery, SecretDelivery::File { .. });
                SecretStatus {
                    name: slot.secret.name.clone(),
                    source: slot.secret.source.describe(),
                    delivery: describe_delivery(&slot.secret),
                    chars: st.chars,
                    expires_at: st.expires_at,
                    refresh_at: if file { st.refresh_at() } else { None },
                }
            })
            .collect()
    }

    /// Start rewriting file-delivered secrets before they expire (a thread holding only a weak
    /// handle; it stops when the secrets are dropped). Call after the cell is started: the
    /// launcher must be single-threaded while it forks.
    pub fn start_refresh(&self) -> std::io::Result<()> {
        let any = self.0.slots.iter().any(|s| {
            matches!(s.secret.delivery, SecretDelivery::File { .. })
                && s.state.lock().unwrap_or_else(|e| e.into_inner()).expires_at.is_some()
        });
        if !any {
            return Ok(());
        }
        let weak = Arc::downgrade(&self.0);
        let stop = self.0.stop.clone();
        let handle =
            std::thread::Builder::new().name("secrets-refresh".into()).spawn(move || refresh_loop(&weak, &stop))?;
        *self.0.refresher.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    }

    /// Hand the secret files to the user a container runs as (see [`SecretDir::give_to`]).
    pub fn give_to(&self, uid: u32, gid: u32) -> Result<(), String> {
        match &self.0.dir {
            Some(dir) => dir.give_to(uid, gid),
            None => Ok(()),
        }
    }

    /// At exit: stop refreshing (waiting for a refresh in flight), then revoke what was minted.
    /// Dropping the last handle does the same; this makes it happen now, on this thread.
    pub fn close(&self) {
        self.0.stop_refresh();
        if let Some(handle) = self.0.refresher.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
        self.0.revoke_all();
    }
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Secrets {}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<&str> = self.0.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Secrets").field("env", &env).field("files", &self.0.files).finish()
    }
}

impl Inner {
    /// Put a credential where the server finds it and register its values for redaction.
    fn deliver(&mut self, secret: &Secret, c: &Credential, first: bool) -> Result<(), RuntimeError> {
        self.deliver_shared(secret, c)?;
        if first {
            match (&secret.delivery, &c.material) {
                (SecretDelivery::Env(var), m) => {
                    self.env.push((var.clone(), m.values()[0].clone()));
                }
                (SecretDelivery::AwsEnv, Material::Aws { access_key_id, secret_access_key, session_token }) => {
                    for (var, v) in
                        mcpcell_profiles::AWS_ENV_VARS.iter().zip([access_key_id, secret_access_key, session_token])
                    {
                        self.env.push((var.to_string(), v.clone()));
                    }
                }
                (SecretDelivery::AwsEnv, Material::Token(_)) => {
                    return Err(RuntimeError::Secret {
                        name: secret.name.clone(),
                        reason: "AWS env delivery needs AWS credentials".into(),
                    });
                }
                (SecretDelivery::File { .. }, _) => {}
            }
        }
        Ok(())
    }

    /// The part of delivery a refresh repeats: the file, the registry, the revocation list.
    fn deliver_shared(&self, secret: &Secret, c: &Credential) -> Result<(), RuntimeError> {
        for v in c.material.values() {
            self.registry.add(&secret.name, v);
        }
        if let Some(r) = &c.revoke {
            self.minted.lock().unwrap_or_else(|e| e.into_inner()).push((secret.name.clone(), r.clone()));
        }
        if let (SecretDelivery::File { .. }, Some(dir)) = (&secret.delivery, &self.dir) {
            dir.write(&secret.name, &c.material.file_contents())
                .map_err(|reason| RuntimeError::Secret { name: secret.name.clone(), reason })?;
        }
        Ok(())
    }

    fn refresh_due(&self) -> Option<SystemTime> {
        self.slots
            .iter()
            .filter(|s| matches!(s.secret.delivery, SecretDelivery::File { .. }))
            .filter_map(|s| s.state.lock().unwrap_or_else(|e| e.into_inner()).refresh_at())
            .min()
    }

    fn refresh_now(&self) {
        let now = SystemTime::now();
        let env = |k: &str| self.env_snapshot.get(k).cloned();
        for slot in self.slots.iter().filter(|s| matches!(s.secret.delivery, SecretDelivery::File { .. })) {
            let due = slot.state.lock().unwrap_or_else(|e| e.into_inner()).refresh_at();
            if due.is_none_or(|d| d > now) {
                continue;
            }
            let name = &slot.secret.name;
            let result = obtain(&slot.secret, &env).and_then(|c| self.deliver_shared(&slot.secret, &c).map(|()| c));
            let mut st = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(c) => {
                    tracing::info!(secret = %name, "secret refreshed: file rewritten");
                    *st = SlotState {
                        obtained_at: SystemTime::now(),
                        expires_at: c.expires_at,
                        chars: c.material.chars(),
                        retry_at: None,
                    };
                }
                Err(e) => {
                    // Keep the current file; try again soon (well before it expires, if possible).
                    let left = st.expires_at.and_then(|x| x.duration_since(now).ok()).unwrap_or(Duration::ZERO);
                    let wait = (left / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "refreshing a secret failed");
                    st.retry_at = Some(now + wait);
                }
            }
        }
    }
}

impl Drop for Inner {
    /// Stop refreshing, revoke what is still valid, remove the files (the SecretDir's drop).
    fn drop(&mut self) {
        self.stop_refresh();
        self.revoke_all();
    }
}

impl Inner {
    fn stop_refresh(&self) {
        let (flag, cv) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }

    /// Revoke every minted credential (once: the list is drained). None is skipped as
    /// expired: the expiry mcpcell keeps is capped at the profile's ttl_secs, while the issuer's
    /// token may live longer (a GitHub token an hour), and revoking a dead token is harmless.
    fn revoke_all(&self) {
        for (name, revocation) in self.minted.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            match revocation.run() {
                Ok(at) => tracing::info!(secret = %name, issuer = %at, "minted secret revoked"),
                Err(e) => tracing::warn!(secret = %name, error = %e, "revoking a minted secret failed"),
            }
        }
    }
}

fn refresh_loop(weak: &Weak<Inner>, stop: &(Mutex<bool>, Condvar)) {
    loop {
        if *stop.0.lock().unwrap_or_else(|e| e.into_inner()) {
            return;
        }
        let due = match weak.upgrade() {
            Some(inner) => {
                inner.refresh_now();
                inner.refresh_due()
            }
            None => return,
        };
        let wait = due.map_or(Duration::from_secs(3600), |d| {
            d.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).max(Duration::from_millis(50))
        });
        let (flag, cv) = stop;
        let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
        if *guard {
            return;
        }
        let (guard, _) = cv.wait_timeout(guard, wait).unwrap_or_else(|e| e.into_inner());
        if *guard {
            return;
        }
    }
}

/// How a secret reaches the server, in words (for `explain` and `secrets check`).
pub fn describe_delivery(secret: &Secret) -> String {
    match &secret.delivery {
        SecretDelivery::Env(var) => format!("env {var}"),
        SecretDelivery::AwsEnv => format!("env {}", mcpcell_profiles::AWS_ENV_VARS.join(", ")),
        SecretDelivery::File { env } => {
            format!("file {CELL_SECRETS_DIR}/{} (read-only, tmpfs; path in env {env})", secret.name)
        }
    }
}

/// Environment variables the sources read (snapshotted for refreshes).
fn referenced_vars(secrets: &[Secret]) -> Vec<String> {
    fn of(src: &SecretSource, out: &mut Vec<String>) {
        match src {
            SecretSource::Env(v) => out.push(v.clone()),
            SecretSource::AwsSts(_) => {
                out.extend(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"].map(String::from))
            }
            SecretSource::OAuth2(o) => {
                if let Some(s) = &o.client_secret {
                    of(s, out);
                }
                if let mcpcell_profiles::OAuth2Grant::TokenExchange { subject_token, .. } = &o.grant {
                    of(subject_token, out);
                }
            }
            SecretSource::GithubApp(g) => of(&g.private_key, out),
            _ => {}
        }
    }
    let mut out = vec!["DBUS_SESSION_BUS_ADDRESS".to_string(), "XDG_RUNTIME_DIR".to_string()];
    for s in secrets {
        of(&s.source, &mut out);
    }
    out
}

/// A time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for `secrets check`.
pub fn format_time(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = aws::parse_iso8601("2026-11-21T17:05:09Z").unwrap();
        assert_eq!(format_time(t), "2026-11-21T17:05:09Z");
        let leap = aws::parse_iso8601("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(format_time(leap), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn the_registry_redacts_values_added_later() {
        let r = Registry::new(vec![("A".into(), SecretValue::new("first-value-1".into()))]);
        assert!(r.redactor().redact(b"x second-value-2 y").is_none());
        r.add("A", &SecretValue::new("second-value-2".into()));
        let (out, _) = r.redactor().redact(b"x first-value-1 second-value-2 y").expect("both redacted");
        assert_eq!(out, b"x [REDACTED:A] [REDACTED:A] y".to_vec());
    }

    #[test]
    fn the_registry_keeps_the_newest_values_of_each_secret() {
        let r = Registry::new(vec![("OTHER".into(), SecretValue::new("other-value-x".into()))]);
        for i in 0..KEEP_VALUES_PER_SECRET + 4 {
            r.add("A", &SecretValue::new(format!("rotating-value-{i:03}")));
        }
        let found = |v: &str| r.redactor().redact(v.as_bytes()).is_some();
        assert!(!found("rotating-value-000"), "the oldest values are dropped");
        assert!(found(&format!("rotating-value-{:03}", KEEP_VALUES_PER_SECRET + 3)), "the newest is kept");
        assert!(found("rotating-value-004"), "the last KEEP_VALUES_PER_SECRET are kept");
        assert!(found("other-value-x"), "other secrets are untouched");
    }

    #[test]
    fn debug_never_shows_values() {
        let s = Secrets::fixed(vec![("T".into(), SecretValue::new("s3cr3t-xyz".into()))]);
        let text = format!("{s:?} {:?} {:?}", s.registry(), s.env_values());
        assert!(!text.contains("s3cr3t-xyz"), "{text}");
        assert!(text.contains('T'));
    }
}
