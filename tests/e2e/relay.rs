//! The stdio relay and the supervisor: bytes pass through untouched in both directions, stderr is
//! passed through, exit statuses are mirrored, signals are forwarded, stdin EOF ends the server,
//! and a server that ignores everything is still killed after the grace period.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

/// Deterministic pseudo-random bytes (no dependency, no seed file).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    format!("lengths sent {} / received {}, first difference at byte {i}", a.len(), b.len())
}

#[test]
fn arbitrary_bytes_pass_through_cat_unchanged() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    input.extend((0u8..=255).collect::<Vec<_>>()); // every byte value, NUL included
    input.extend_from_slice(b"\n\xff\xfe\xc0\xaf invalid utf-8 \xed\xa0\x80 surrogate\r\n\0\0\0\n");
    input.extend_from_slice(b"\x1b[31mescape sequences\x1b[0m \x07 bell\n");
    let mut big_line = noise(1 << 20, 0x9e37_79b9_7f4a_7c15);
    big_line.retain(|b| *b != b'\n');
    input.extend_from_slice(&big_line); // one line of about 1 MiB
    input.push(b'\n');
    input.extend(noise(3 << 20, 42)); // 3 MiB of binary noise with random newlines
    input.extend_from_slice(b"no trailing newline");

    let out = Cell::bare().run("/bin/cat", &[], Some(&input));
    assert_code(&out, 0, "cat exits 0 after stdin EOF");
    assert!(
        out.stdout == input,
        "stdout differs from stdin: {}{}",
        first_difference(&input, &out.stdout),
        out.describe()
    );
}

#[test]
fn empty_stdin_gives_empty_stdout_and_exit() {
    let out = Cell::bare().run("/bin/cat", &[], Some(b""));
    assert_code(&out, 0, "cat on an empty stdin");
    assert!(out.stdout.is_empty(), "stdout must be empty:{}", out.describe());
}

#[test]
fn line_by_line_round_trips_do_not_stall() {
    // An MCP client writes one request and waits for its response before the next: the relay
    // must not hold bytes back waiting for more.
    let mut cmd = Cell::bare().command("/bin/cat", &[]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let cmdline = render(&cmd);
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    for i in 0..200 {
        let req = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"tools/call\",\"params\":{{\"x\":\"\u{e9}\u{1F600}\"}}}}\n"
        );
        stdin.write_all(req.as_bytes()).unwrap();
        stdin.flush().unwrap();
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => assert_eq!(line, req.as_bytes(), "round trip {i} changed the bytes"),
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("round trip {i}: no response within 20 s through {cmdline}\n  stderr: {err}");
            }
        }
    }
    drop(stdin);
    let status = wait_timeout(&mut child, CELL_TIMEOUT).expect("cat exits after stdin EOF");
    assert!(status.success(), "cat exited with {status:?}");
}

#[test]
fn stderr_passes_through() {
    let out = Cell::bare().run("/bin/sh", &["-c", "printf 'to stderr \\377\\000 end' >&2; printf 'to stdout'"], None);
    assert_code(&out, 0, "sh writing to both streams");
    assert_eq!(out.stdout, b"to stdout", "stdout:{}", out.describe());
    assert!(
        out.stderr.windows(16).any(|w| w == b"to stderr \xff\x00 end"),
        "the server's stderr bytes must reach the launcher's stderr unchanged:{}",
        out.describe()
    );
}

#[test]
fn exit_status_is_mirrored() {
    for code in [0, 1, 7, 42, 124, 255] {
        let out = Cell::bare().run("/bin/sh", &["-c", &format!("exit {code}")], None);
        assert_code(&out, code, &format!("sh -c 'exit {code}'"));
    }
}

#[test]
fn death_by_signal_is_mirrored_as_128_plus_n() {
    for (sig, name) in [(libc::SIGKILL, "KILL"), (libc::SIGTERM, "TERM"), (libc::SIGSEGV, "SEGV")] {
        let out = Cell::bare().run("/bin/sh", &["-c", &format!("kill -{name} $$; sleep 5; exit 3")], None);
        assert_code(&out, 128 + sig, &format!("a server that sends itself SIG{name}"));
    }
}

#[test]
fn missing_and_unexecutable_commands() {
    let out = Cell::bare().run(format!("no-such-command-{}", unique("x")), &[], None);
    assert_code(&out, 127, "a command that is not found");
    let sc = Scratch::new("noexec");
    let f = sc.file("script.sh", "#!/bin/sh\necho should not run\n");
    let out = Cell::bare().read(&sc.path).run(&f, &[], None);
    assert_code(&out, 126, "a granted file without the execute bit");
    assert!(!out.stdout().contains("should not run"), "{}", out.describe());
}

#[test]
fn stdin_eof_ends_a_server_that_ignores_sigterm_after_the_grace_period() {
    let marker = unique("stubborn");
    // `trap "" TERM` makes SIGTERM ignored in sh and in the probe it starts (SIG_IGN survives exec).
    let _cleanup = KillOnDrop(marker.clone());
    let script = format!("trap '' TERM; {} sleep 600 {marker}; : {marker}", probe().display());
    let cmd = cell().command("/bin/sh", &["-c", &script]);
    // stdin is at EOF from the start.
    let out = run_cmd(cmd, Some(b""), Duration::from_secs(60));
    let gone = eventually(Duration::from_secs(5), || procs_with(&marker).is_empty());
    let left = procs_with(&marker);
    assert!(gone, "processes of the cell survived its end: {left:?}{}", out.describe());
    assert_ne!(out.code(), 0, "a server killed after the grace period must not look successful:{}", out.describe());
}

/// Starts `sh` in a cell that prints `ready` once its traps are set, then waits.
fn start_trapping_shell(traps: &str) -> (std::process::Child, mpsc::Receiver<String>, String) {
    let script = format!("{traps}\necho ready\nwhile :; do sleep 0.1; done");
    let mut cmd = Cell::bare().command("/bin/sh", &["-c", &script]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let cmdline = render(&cmd);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) if l == "ready" => {}
        other => {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the server never said ready ({other:?}) through {cmdline}\n  stderr: {err}");
        }
    }
    (child, rx, cmdline)
}

#[test]
fn signals_to_the_launcher_are_forwarded() {
    for (sig, name, code) in [(libc::SIGTERM, "TERM", 3), (libc::SIGINT, "INT", 4), (libc::SIGHUP, "HUP", 5)] {
        let (mut child, rx, cmdline) = start_trapping_shell(&format!("trap 'echo got-{name}; exit {code}' {name}"));
        signal(child.id(), sig);
        let status = wait_timeout(&mut child, Duration::from_secs(30));
        let Some(status) = status else {
            let _ = child.kill();
            panic!("the launcher did not exit within 30 s after SIG{name}: {cmdline}");
        };
        let lines: Vec<String> = rx.try_iter().collect();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        assert!(
            lines.iter().any(|l| l == &format!("got-{name}")),
            "SIG{name} sent to the launcher did not reach the server's trap: stdout {lines:?}, status {status:?}\n  stderr: {err}"
        );
        assert_eq!(
            status.code(),
            Some(code),
            "the launcher must exit with the server's status after SIG{name}\n  stderr: {err}"
        );
    }
}

#[test]
fn launcher_returns_after_the_server_exits_even_if_stdin_stays_open() {
    // The client keeps stdin open; the server exits on its own: the launcher must notice.
    let (mut child, _rx, cmdline) = start_trapping_shell("trap 'exit 9' USR1; (sleep 0.2; kill -USR1 $$) &");
    let status = wait_timeout(&mut child, Duration::from_secs(30));
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the launcher kept running after its server exited: {cmdline}");
    };
    assert_eq!(status.code(), Some(9), "exit status of a server that exited while stdin was open");
}
