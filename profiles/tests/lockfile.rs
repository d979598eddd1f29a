//! Tool-pin lockfiles: reading, stable writing, and where they live.

use std::fs;
use std::path::{Path, PathBuf};

use mcpcell_profiles::{
    lockfile_path, parse_str, LoadContext, LockedServer, LockedTool, Lockfile, Origin, ProfileError, LOCKFILE_VERSION,
};
use serde_json::json;

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpcell-profiles-lock-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn tool(name: &str, sha: &str) -> LockedTool {
    LockedTool {
        name: name.to_string(),
        sha256: sha.to_string(),
        definition: json!({ "name": name, "description": format!("{name} things"), "inputSchema": { "type": "object" } }),
    }
}

fn sample() -> Lockfile {
    Lockfile {
        version: LOCKFILE_VERSION,
        server: Some(LockedServer { name: "files".into(), version: "1.2.3".into() }),
        tools: Some(vec![tool("write_file", "bb"), tool("read_file", "aa")]),
        package: None,
    }
}

fn read_text(dir: &Path, text: &str) -> Result<Option<Lockfile>, ProfileError> {
    let path = dir.join("p.lock.json");
    fs::write(&path, text).unwrap();
    Lockfile::read(&path)
}

#[test]
fn round_trip() {
    let dir = scratch("round-trip");
    let path = dir.join("p.lock.json");
    let lock = sample();
    fs::write(&path, lock.to_pretty_json()).unwrap();
    let back = Lockfile::read(&path).unwrap().expect("the file exists");
    // Written sorted by name; otherwise identical.
    let mut sorted = lock.clone();
    sorted.tools.as_mut().unwrap().sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(back, sorted);
    assert_eq!(back.to_pretty_json(), lock.to_pretty_json());

    // No server info round-trips too (and is left out of the file).
    let bare = Lockfile { version: 1, server: None, tools: Some(vec![]), package: None };
    fs::write(&path, bare.to_pretty_json()).unwrap();
    assert_eq!(Lockfile::read(&path).unwrap(), Some(bare));
}

#[test]
fn pretty_json_is_sorted_and_stable() {
    let lock = Lockfile {
        version: 1,
        server: Some(LockedServer { name: "s".into(), version: "0.1".into() }),
        tools: Some(vec![
            LockedTool { name: "b".into(), sha256: "22".into(), definition: json!({ "name": "b" }) },
            LockedTool {
                name: "a".into(),
                sha256: "11".into(),
                definition: json!({ "name": "a", "description": "A", "annotations": { "readOnlyHint": true } }),
            },
        ]),
        package: None,
    };
    let want = r#"{
  "version": 1,
  "server": {
    "name": "s",
    "version": "0.1"
  },
  "tools": [
    {
      "name": "a",
      "sha256": "11",
      "definition": {
        "annotations": {
          "readOnlyHint": true
        },
        "description": "A",
        "name": "a"
      }
    },
    {
      "name": "b",
      "sha256": "22",
      "definition": {
        "name": "b"
      }
    }
  ]
}
"#;
    assert_eq!(lock.to_pretty_json(), want);
    // The input order does not matter.
    let mut reversed = lock.clone();
    reversed.tools.as_mut().unwrap().reverse();
    assert_eq!(reversed.to_pretty_json(), want);
    // Without server info the key is left out.
    let bare = Lockfile { version: 1, server: None, tools: Some(vec![]), package: None };
    assert_eq!(bare.to_pretty_json(), "{\n  \"version\": 1,\n  \"tools\": []\n}\n");
}

#[test]
fn missing_file_is_none() {
    let dir = scratch("missing");
    assert_eq!(Lockfile::read(&dir.join("nope.lock.json")).unwrap(), None);
}

#[test]
fn unreadable_file_is_an_io_error() {
    // A directory where the file should be: exists, but cannot be read as text.
    let dir = scratch("unreadable");
    let err = Lockfile::read(&dir).unwrap_err();
    assert!(matches!(err, ProfileError::LockfileIo { ref path, .. } if path == &dir), "{err:?}");
    assert!(err.to_string().contains("cannot read lockfile"), "{err}");
    assert_eq!(err.location(), None);
}

#[test]
fn malformed_json_names_the_path_and_position() {
    let dir = scratch("malformed");
    let path = dir.join("p.lock.json");
    let err = read_text(&dir, "{\n  \"version\": 1,\n  \"tools\": [\n}\n").unwrap_err();
    let loc = err.location().expect("a position").clone();
    assert_eq!((loc.file.as_str(), loc.line), (path.to_str().unwrap(), 4));
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:4:", path.display())), "{msg}");
    assert!(msg.contains("invalid lockfile"), "{msg}");
    assert!(msg.contains("mcpcell lock PROFILE"), "{msg}");
}

#[test]
fn wrong_structure_names_the_position() {
    let dir = scratch("structure");
    let path = dir.join("p.lock.json");
    let err = read_text(
        &dir,
        "{\n  \"version\": 1,\n  \"tools\": [{ \"name\": \"a\", \"sha256\": 5, \"definition\": {} }]\n}\n",
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:3:", path.display())), "{msg}");
    let err = read_text(&dir, "{\"version\": 1, \"tools\": [], \"extra\": true}").unwrap_err();
    assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    let err = read_text(&dir, "{\"version\": 1}").unwrap_err();
    assert!(err.to_string().contains("has neither \"tools\" nor \"package\""), "{err}");
}

#[test]
fn unknown_version_says_what_is_supported() {
    let dir = scratch("version");
    let path = dir.join("p.lock.json");
    let err = read_text(&dir, "{\n  \"version\": 2,\n  \"tools\": []\n}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:3: unsupported lockfile version 2; this mcpcell supports version 1; re-create it with `mcpcell lock PROFILE` (or use the mcpcell that wrote it)",
            path.display()
        )
    );
    let err = read_text(&dir, "{\"version\": \"1\", \"tools\": []}").unwrap_err();
    assert!(err.to_string().contains("unsupported lockfile version \"1\"; this mcpcell supports version 1"), "{err}");
    let err = read_text(&dir, "{\"tools\": []}").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:1: lockfile has no \"version\"; this mcpcell supports version 1; re-create it with `mcpcell lock PROFILE` (or use the mcpcell that wrote it)",
            path.display()
        )
    );
}

#[test]
fn lockfile_path_next_to_files_and_under_locks_dir_otherwise() {
    let ctx = LoadContext { home: PathBuf::from("/home/u"), profile_dirs: Vec::new(), check_paths: false };
    let locks = Path::new("/home/u/.config/mcpcell/locks");
    let text = "[server]\ncommand = \"srv\"\n";

    let p = parse_str(text, Origin::File(PathBuf::from("/etc/mcpcell/github.toml")), &ctx).unwrap();
    assert_eq!(lockfile_path(&p, locks), PathBuf::from("/etc/mcpcell/github.lock.json"));
    let p = parse_str(text, Origin::File(PathBuf::from("profiles/files.toml")), &ctx).unwrap();
    assert_eq!(lockfile_path(&p, locks), PathBuf::from("profiles/files.lock.json"));

    let p = mcpcell_profiles::load("filesystem", &ctx).unwrap();
    assert!(matches!(p.origin, Origin::Builtin(_)));
    assert_eq!(lockfile_path(&p, locks), locks.join("filesystem.lock.json"));

    let p = parse_str(text, Origin::AdHoc, &ctx).unwrap();
    assert_eq!(lockfile_path(&p, locks), locks.join(format!("{}.lock.json", p.name)));
}
