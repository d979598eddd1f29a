//! Racing filesystem attacks, each with its control. An attacker on the host (a thread of this
//! test, standing for a local user or another cell with write access to the directory) swaps
//! entries with `renameat2(RENAME_EXCHANGE)` in a tight loop:
//!
//! - under a granted directory, between a file and a symlink pointing outside the grant, while
//!   the server reads the path over and over: the server must never read the canary (control:
//!   the same reads on the host do, so the race is real);
//! - above or at a granted path, between the real directory and a symlink to the attacker's
//!   directory, while cells start: each start must grant the path it resolved or refuse — the
//!   granted path must never show the attacker's directory (control: both resolutions happen,
//!   so the swaps interleave with the starts).

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;

const CANARY: &str = "race-canary-must-stay-on-the-host";
const REAL: &str = "the-real-granted-content";

/// Exchanges two paths atomically in a loop until dropped.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn c(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn exchange(a: &CString, b: &CString) -> std::io::Result<()> {
    // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl Swapper {
    fn start(a: &Path, b: &Path) -> Swapper {
        let (a, b) = (c(a), c(b));
        exchange(&a, &b).expect("control: renameat2(RENAME_EXCHANGE) works here");
        exchange(&a, &b).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (st, sw) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if exchange(&a, &b).is_ok() {
                    sw.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Leave the original layout (an even number of swaps).
            if sw.load(Ordering::Relaxed) % 2 == 1 {
                let _ = exchange(&a, &b);
            }
        });
        Swapper { stop, swaps, thread: Some(thread) }
    }
    fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

// =================================================================================== inside a grant

const READS: &str = "20000";

/// `granted/victim` swaps between a file in the grant and a symlink to the canary outside it.
#[test]
fn a_symlink_swapped_in_a_loop_never_leads_out_of_a_grant() {
    let sc = Scratch::new("race-link");
    let granted = sc.dir("granted");
    let canary = sc.file("outside/secret.txt", &format!("{CANARY}\n"));
    let victim = sc.file("granted/victim", &format!("{REAL}\n"));
    let alt = granted.join(".alt");
    symlink(&canary, &alt);
    let _swap = Swapper::start(&victim, &alt);

    let out = cell().read(&granted).probe(&["read-loop", s(&victim), READS, CANARY]);
    assert_denied(&out, "reading the canary through a symlink swapped under a --read grant");
    assert!(
        out.data().iter().any(|l| !l.contains(" other=0 ")),
        "control: the cell also read the real file while the attacker swapped:{}",
        out.describe()
    );
    // Control: on the host the same loop reads the canary (the race is live).
    assert_allowed(&host_probe(&["read-loop", s(&victim), READS, CANARY]), "the swapped symlink on the host");
}

/// `granted/d` swaps between a directory in the grant and a symlink to a directory outside it.
#[test]
fn a_directory_swapped_for_a_symlink_in_a_loop_never_leads_out_of_a_grant() {
    let sc = Scratch::new("race-dir");
    let granted = sc.dir("granted");
    sc.file("outside/secret.txt", &format!("{CANARY}\n"));
    sc.file("granted/d/secret.txt", &format!("{REAL}\n"));
    let alt = granted.join(".alt");
    symlink(&sc.join("outside"), &alt);
    let d = granted.join("d");
    let _swap = Swapper::start(&d, &alt);
    let target = d.join("secret.txt");

    let out = cell().read(&granted).probe(&["read-loop", s(&target), READS, CANARY]);
    assert_denied(&out, "reading the canary through a directory symlink swapped under a --read grant");
    assert_allowed(&host_probe(&["read-loop", s(&target), READS, CANARY]), "the swapped directory on the host");
}

// =================================================================================== at the start

/// What one racing start showed at the granted path.
#[derive(Debug, Default)]
struct Outcomes {
    real: u32,
    /// Resolved through the attacker's symlink: the grant is the symlink's target, at its own
    /// path, so the requested path does not exist in the cell.
    absent: u32,
    refused: u32,
    canary: Vec<String>,
}

/// Starts `n` cells granting `grant` (read-only) while the swapper runs, each reading `file`.
fn racing_starts(grant: &Path, file: &Path, n: usize) -> Outcomes {
    let mut o = Outcomes::default();
    for _ in 0..n {
        let out = cell().read(grant).probe(&["cat", s(file)]);
        let stdout = out.stdout();
        if stdout.contains(CANARY) {
            o.canary.push(out.describe());
        } else if out.code() == 0 && stdout.contains(REAL) {
            o.real += 1;
        } else if out.code() == 1 && out.verdict().contains("ENOENT") {
            o.absent += 1;
        } else if out.code() == 125 {
            // Refused: the message must name the grant and say it changed.
            assert!(
                out.stderr().contains(s(grant)) || out.stderr().contains("changed"),
                "a refusal that does not say which grant:{}",
                out.describe()
            );
            o.refused += 1;
        } else {
            panic!("unexpected outcome of a racing start:{}", out.describe());
        }
    }
    o
}

fn assert_never_the_attackers(o: &Outcomes, swaps: u64, what: &str) {
    assert!(
        o.canary.is_empty(),
        "ESCAPE: {what}: {} of the racing starts showed the attacker's directory at the granted path \
         (outcomes: {o:?}, swaps: {swaps}); first:{}",
        o.canary.len(),
        o.canary[0]
    );
    // Control: the swaps interleaved with the starts (both resolutions, or refusals, occurred).
    assert!(
        o.real > 0 && o.absent + o.refused > 0,
        "control: {what}: the race did not interleave with the starts (outcomes: {o:?}, swaps: {swaps})"
    );
}

const STARTS: usize = 40;

/// A directory above the grant (`base/a`) is exchanged with a symlink to the attacker's tree.
#[test]
fn renaming_a_parent_of_a_grant_during_start_grants_the_real_path_or_refuses() {
    let sc = Scratch::new("race-start-parent");
    sc.file("a/g/marker", &format!("{REAL}\n"));
    sc.file("evil/g/marker", &format!("{CANARY}\n"));
    let b = sc.join("b");
    // Relative: an absolute link would resolve against the launcher's scratch root at mount
    // time and fail by accident; the attacker picks what works.
    symlink(Path::new("evil"), &b);
    let a = sc.join("a");
    let swap = Swapper::start(&a, &b);
    let o = racing_starts(&a.join("g"), &a.join("g/marker"), STARTS);
    let swaps = swap.swaps();
    drop(swap);
    eprintln!("parent swap: {o:?} over {swaps} swaps");
    assert_never_the_attackers(&o, swaps, "rename over a parent of a grant");
}

/// The granted path itself (`base/g`) is exchanged with a symlink to the attacker's directory.
#[test]
fn renaming_over_a_granted_path_during_start_grants_the_real_path_or_refuses() {
    let sc = Scratch::new("race-start-grant");
    sc.file("g/marker", &format!("{REAL}\n"));
    sc.file("evil/marker", &format!("{CANARY}\n"));
    let alt = sc.join("alt");
    symlink(Path::new("evil"), &alt);
    let g: PathBuf = sc.join("g");
    let swap = Swapper::start(&g, &alt);
    let o = racing_starts(&g, &g.join("marker"), STARTS);
    let swaps = swap.swaps();
    drop(swap);
    eprintln!("grant swap: {o:?} over {swaps} swaps");
    assert_never_the_attackers(&o, swaps, "rename over a granted path");
}
