//! The audit log: one JSON line per event (relay calls, denials, pin mismatches, approvals,
//! egress decisions), append-only, written and flushed per line, rotated by size to FILE.1.
//! Events carry names and digests, never argument values or secrets.

use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    profile: String,
    session: String,
    seq: AtomicU64,
    /// The file and its size (kept here: no stat per line).
    file: Mutex<(File, u64)>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("path", &self.path).field("session", &self.session).finish()
    }
}

impl AuditLog {
    /// Open (append) the audit file, creating its directory.
    pub fn open(path: &Path, max_bytes: u64, profile: &str) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Ok(AuditLog {
            path: path.to_path_buf(),
            max_bytes,
            profile: profile.to_string(),
            session: format!("{:x}-{:x}", std::process::id(), now.as_micros()),
            seq: AtomicU64::new(0),
            file: Mutex::new((file, size)),
        })
    }

    /// Append one event; `fields` gets ts_ms, profile, session and seq added.
    pub fn event(&self, mut fields: Value) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
        if let Value::Object(map) = &mut fields {
            map.insert("ts_ms".into(), ts_ms.into());
            map.insert("profile".into(), self.profile.clone().into());
            map.insert("session".into(), self.session.clone().into());
            map.insert("seq".into(), seq.into());
        }
        let line = format!("{fields}\n");
        let Ok(mut guard) = self.file.lock() else { return };
        let (file, size) = &mut *guard;
        if *size > 0 && *size + line.len() as u64 > self.max_bytes {
            let mut backup = self.path.clone().into_os_string();
            backup.push(".1");
            match std::fs::rename(&self.path, &backup).and_then(|()| open_append(&self.path)) {
                Ok(fresh) => {
                    *file = fresh;
                    *size = 0;
                }
                Err(e) => tracing::warn!(error = %e, path = %self.path.display(), "could not rotate the audit file"),
            }
        }
        match file.write_all(line.as_bytes()) {
            Ok(()) => *size += line.len() as u64,
            Err(e) => tracing::warn!(error = %e, path = %self.path.display(), "could not write the audit file"),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}
