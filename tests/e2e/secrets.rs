//! Secrets: delivered to the server, never printed, and redacted when the server sends them back.
//! No assertion message here ever shows a secret value: outputs are scrubbed before printing.

mod common;

use common::*;
use serde_json::json;

const ENV_SECRET: &str = "canary-env-secret-4f1d2c";
const CMD_SECRET: &str = "canary-cmd-secret-9e7a33";

fn scrub(text: &str) -> String {
    text.replace(ENV_SECRET, "<LEAKED ENV SECRET>").replace(CMD_SECRET, "<LEAKED CMD SECRET>")
}

#[test]
fn a_server_echoing_its_environment_gets_the_secret_redacted() {
    std::env::set_var("MCPCELL_TEST_ENV_SECRET", ENV_SECRET);
    let sc = Scratch::new("secrets-everything");
    let profile = sc.file(
        "everything.toml",
        "[server]\ncommand = \"mcp-server-everything\"\n\n\
         [secrets.API_TOKEN]\nsource = \"env:MCPCELL_TEST_ENV_SECRET\"\n",
    );
    let (report, out) = mcp_session(&profile, &json!([{"name": "env", "tool": "get-env", "arguments": {}}]), None);
    let text = report["calls"]["env"]["text"].as_str().unwrap_or("").to_string();
    assert!(!text.contains(ENV_SECRET), "the secret came back unredacted: {}", scrub(&text));
    assert!(text.contains("[REDACTED:API_TOKEN]"), "the secret was delivered and redacted: {}", scrub(&text));
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(!all.contains(ENV_SECRET), "the secret reached the test output: {}", scrub(&all));
}

#[test]
fn a_command_sourced_secret_is_delivered_and_redacted_from_raw_output() {
    let sc = Scratch::new("secrets-command");
    let profile = sc.file(
        "env.toml",
        &format!(
            "[server]\ncommand = \"/usr/bin/env\"\n\n[secrets.API_TOKEN]\nsource = \"command\"\n\
             command = [\"/usr/bin/printf\", \"{CMD_SECRET}\"]\n"
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "run of /usr/bin/env with a command-sourced secret");
    let stdout = out.stdout();
    assert!(
        stdout.contains("API_TOKEN=[REDACTED:API_TOKEN]"),
        "delivered as env, redacted on the way out: {}",
        scrub(&stdout)
    );
    assert!(!format!("{stdout}{}", out.stderr()).contains(CMD_SECRET), "{}", scrub(&stdout));
}

#[test]
fn secrets_check_reports_each_secret_without_its_value() {
    std::env::set_var("MCPCELL_TEST_ENV_SECRET", ENV_SECRET);
    let sc = Scratch::new("secrets-check");
    let good = sc.file(
        "good.toml",
        &format!(
            "[server]\ncommand = \"x\"\n\n[secrets.A]\nsource = \"env:MCPCELL_TEST_ENV_SECRET\"\n\n\
             [secrets.B]\nsource = \"command\"\ncommand = [\"/usr/bin/printf\", \"{CMD_SECRET}\"]\n"
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["secrets", "check", s(&good)]), None, CELL_TIMEOUT);
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert_code(&out, 0, "secrets check with resolvable secrets");
    assert!(all.contains("ok      A") && all.contains("ok      B"), "{}", scrub(&all));
    assert!(!all.contains(ENV_SECRET) && !all.contains(CMD_SECRET), "a value was printed: {}", scrub(&all));

    let bad = sc.file(
        "bad.toml",
        "[server]\ncommand = \"/bin/true\"\n\n[secrets.MISSING]\nsource = \"env:MCPCELL_TEST_NOT_SET_ANYWHERE\"\n\n\
         [secrets.FAILS]\nsource = \"command\"\ncommand = [\"/bin/false\"]\n",
    );
    let out = run_cmd(mcpcell_cmd(&["secrets", "check", s(&bad)]), None, CELL_TIMEOUT);
    assert_code(&out, 1, "secrets check with unresolvable secrets");
    let all = format!("{}{}", out.stdout(), out.stderr());
    assert!(
        all.contains("MISSING") && all.contains("MCPCELL_TEST_NOT_SET_ANYWHERE"),
        "names the secret and source: {all}"
    );
    assert!(all.contains("FAILS") && all.contains("/bin/false"), "names the command: {all}");

    // And a start with an unresolvable secret is refused (no half-configured server).
    let out = run_cmd(mcpcell_cmd(&["run", s(&bad)]), None, CELL_TIMEOUT);
    assert_code(&out, 125, "run with an unresolvable secret");
    let err = out.stderr();
    assert!(
        err.contains("secret MISSING") || err.contains("secret FAILS"),
        "the refusal names a secret:{}",
        out.describe()
    );
}

// ------------------------------------------------------------------ file delivery, refresh, minting

/// Issuers and stubs for these tests live here; the servers the cells run, too.
fn secrets_dir() -> std::path::PathBuf {
    tests_dir().join("secrets")
}

/// The virtualenv (on /usr/bin/python3, so visible in a cell) with moto[server], boto3 and
/// cryptography: $MCPCELL_TEST_AWS_VENV (scripts/test sets it), else tests/.venv-aws.
fn aws_venv() -> std::path::PathBuf {
    let venv = std::env::var_os("MCPCELL_TEST_AWS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tests_dir().join(".venv-aws"));
    assert!(
        venv.join("bin/moto_server").exists(),
        "no moto_server in {}: run scripts/test, which creates it with the pinned moto[server]",
        venv.display()
    );
    venv
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0)).expect("bind a loopback port").local_addr().unwrap().port()
}

/// Start a host process that serves on ip:port and wait until it accepts connections.
fn start_issuer(mut cmd: std::process::Command, ip: &str, port: u16) -> HostProc {
    let what = render(&cmd);
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let proc = HostProc(child);
    let up = eventually(std::time::Duration::from_secs(60), || std::net::TcpStream::connect((ip, port)).is_ok());
    assert!(up, "{what} did not start listening on {ip}:{port}");
    proc
}

fn log_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l}: {e}")))
        .collect()
}

fn run_profile(profile: &std::path::Path, env: &[(&str, &str)], remove: &[&str]) -> Out {
    let mut cmd = mcpcell_cmd(&["run", s(profile)]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    run_cmd(cmd, None, CELL_TIMEOUT)
}

#[test]
fn a_file_delivered_secret_is_rewritten_before_it_expires() {
    file_delivery_and_rotation("");
}

/// The same with the container backend: the engine binds the launcher's directory (given to
/// the container's user), and the refresh rewrites it just the same.
#[test]
fn a_file_delivered_secret_is_rewritten_in_a_container_too() {
    file_delivery_and_rotation("[sandbox]\nbackend = \"container\"\n\n");
}

fn file_delivery_and_rotation(sandbox: &str) {
    let sc = Scratch::new("secrets-rotate");
    // Each run of the helper yields a new value that carries its issue time.
    let profile = sc.file(
        "rotate.toml",
        &format!(
            "{sandbox}[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{}\", \"9\", \"{}\"]\n\n\
             [filesystem]\nread = [\"{}\"]\n\n\
             [secrets.TOKEN]\nsource = \"command\"\ncommand = [\"/bin/sh\", \"-c\", \"printf tok-%s $(date +%s%N)\"]\n\
             delivery = \"file\"\nttl_secs = 5\n",
            s(&secrets_dir().join("watch_token_file.py")),
            s(&sc.path),
            s(&secrets_dir())
        ),
    );
    // No XDG_RUNTIME_DIR: the launcher's directory goes to /dev/shm, where this test can look.
    let mut cmd = mcpcell_cmd(&["run", s(&profile)]);
    cmd.env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let cmdline = render(&cmd);
    let mut child = cmd.spawn().expect("spawn mcpcell run");
    let stdin = child.stdin.take();
    // While it runs: no value in the argv or the environment of the launcher or the server
    // (file delivery puts only the path in the environment).
    let marker = s(&sc.path).to_string();
    let found = eventually(std::time::Duration::from_secs(30), || procs_with(&marker).len() >= 2);
    let procs = procs_with(&marker);
    assert!(found, "the launcher and the server are running (marked by the scratch path): {procs:?}");
    for (pid, argv) in &procs {
        assert!(!argv.contains("tok-"), "a value in the argv of {pid}: {argv}");
        let environ =
            String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()).to_string();
        assert!(!environ.contains("tok-"), "a value in the environment of {pid} ({argv})");
    }
    // stdin stays open (as an MCP client keeps it) until the server has finished on its own.
    let out = wait_out(child, cmdline, CELL_TIMEOUT);
    drop(stdin);
    assert_code(&out, 0, "a server watching its token file");
    let stdout = out.stdout();
    assert!(stdout.contains("path /run/mcpcell/secrets/TOKEN"), "TOKEN_FILE names the cell path:{}", out.describe());
    let seen: Vec<(u128, u128)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("seen "))
        .map(|l| {
            let field = |k: &str| -> u128 {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix(k))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("no {k} in {l}"))
            };
            (field("issued="), field("at="))
        })
        .collect();
    assert!(seen.len() >= 2, "the server saw a refreshed value within 9 s of a 5 s TTL:{}", out.describe());
    for pair in seen.windows(2) {
        let ((issued_old, _), (issued_new, seen_new)) = (pair[0], pair[1]);
        assert!(issued_new > issued_old, "values are new ones: {seen:?}");
        let expires_old = issued_old + 5_000_000_000;
        assert!(
            seen_new < expires_old,
            "the new value was in the file before the old one expired (seen {} ms after issue; TTL 5000 ms): {seen:?}",
            (seen_new - issued_old) / 1_000_000
        );
    }
    // Read-only for the server: the bind is read-only (EROFS) and Landlock grants no write.
    assert!(
        stdout.contains("readonly file errno=30") || stdout.contains("readonly file errno=13"),
        "{}",
        out.describe()
    );
    assert!(stdout.contains("readonly dir errno=30") || stdout.contains("readonly dir errno=13"), "{}", out.describe());
    assert!(!stdout.contains("WRITABLE"), "{}", out.describe());
    // The host side: a private directory on /dev/shm, bound read-only, gone after exit.
    let mount = stdout
        .lines()
        .find_map(|l| l.strip_prefix("mount "))
        .unwrap_or_else(|| panic!("no mount line:{}", out.describe()));
    let root = mount.split_whitespace().find_map(|f| f.strip_prefix("root=")).unwrap_or_default();
    let options = mount.split_whitespace().find_map(|f| f.strip_prefix("options=")).unwrap_or_default();
    assert!(options.split(',').any(|o| o == "ro"), "mounted read-only: {mount}");
    assert!(root.starts_with("/mcpcell-secrets-"), "from the launcher's directory: {mount}");
    let host_dir = std::path::Path::new("/dev/shm").join(root.trim_start_matches('/'));
    assert!(!host_dir.exists(), "{} was removed when mcpcell exited", host_dir.display());
}

#[test]
fn aws_sts_credentials_let_the_server_act_as_the_assumed_role() {
    let venv = aws_venv();
    let port = free_port("127.0.0.2");
    let mut moto = std::process::Command::new(venv.join("bin/moto_server"));
    moto.args(["-H", "127.0.0.2", "-p", &port.to_string()]);
    let _moto = start_issuer(moto, "127.0.0.2", port);
    let sc = Scratch::new("secrets-aws");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::mcp-bucket/*"}]}"#;
    let profile = sc.file(
        "aws.toml",
        &format!(
            "[server]\ncommand = \"{python}\"\nargs = [\"{script}\"]\n\
             env = {{ STS_URL = \"http://allowed.egress.test:{port}\" }}\n\n\
             [filesystem]\nread = [\"{venv}\", \"{dir}\"]\n\n\
             [network]\negress = [{{ host = \"allowed.egress.test\", port = {port}, allow_private = true }}]\n\n\
             [secrets.AWS]\nsource = \"aws-sts\"\nrole_arn = \"arn:aws:iam::123456789012:role/mcp-reader\"\n\
             session_name = \"mcpcell-e2e\"\npolicy = '{policy}'\nendpoint = \"http://127.0.0.2:{port}\"\nttl_secs = 900\n",
            python = s(&venv.join("bin/python")),
            script = s(&secrets_dir().join("aws_whoami.py")),
            venv = s(&venv),
            dir = s(&secrets_dir()),
        ),
    );
    // The launcher's own (long-lived) credentials: used to sign AssumeRole, never delivered.
    let base = [("AWS_ACCESS_KEY_ID", "AKIAMCPCELLBASEKEY01"), ("AWS_SECRET_ACCESS_KEY", "base-secret-canary-7f3e")];
    let out = run_profile(&profile, &base, &["AWS_SESSION_TOKEN", "AWS_PROFILE"]);
    assert_code(&out, 0, "a server calling GetCallerIdentity with minted STS credentials");
    let stdout = out.stdout();
    assert!(
        stdout.contains("ARN arn:aws:sts::123456789012:assumed-role/mcp-reader/mcpcell-e2e"),
        "the server is the assumed role, not the launcher's user:{}",
        out.describe()
    );
    assert!(!format!("{stdout}{}", out.stderr()).contains("base-secret-canary-7f3e"), "{}", out.describe());

    // As a shared-credentials file instead (AWS_SHARED_CREDENTIALS_FILE), at the most verbose
    // log level: boto3 finds the file, and no credential reaches a log line.
    let file_profile = sc.file(
        "aws-file.toml",
        &std::fs::read_to_string(&profile)
            .unwrap()
            .replace("ttl_secs = 900\n", "ttl_secs = 900\ndelivery = \"file\"\n"),
    );
    let mut verbose = mcpcell_cmd(&["-vv", "run", s(&file_profile)]);
    verbose.envs(base).env_remove("AWS_SESSION_TOKEN").env_remove("AWS_PROFILE").env_remove("MCPCELL_LOG");
    let out = run_cmd(verbose, None, CELL_TIMEOUT);
    assert_code(&out, 0, "the aws-sts secret delivered as a credentials file");
    assert!(
        out.stdout().contains("ARN arn:aws:sts::123456789012:assumed-role/mcp-reader/mcpcell-e2e"),
        "{}",
        out.describe()
    );
    let logs = out.stderr();
    assert!(logs.contains("DEBUG"), "positive control: -vv logs at debug level:{}", out.describe());
    for leak in ["base-secret-canary-7f3e", "ASIA", "x-amz-security-token", "Signature="] {
        assert!(!logs.contains(leak), "{leak:?} in the logs:{}", out.describe());
    }

    // The session policy reached STS with the AssumeRole call (moto keeps the assumed roles).
    let state = run_cmd(
        {
            let mut c = std::process::Command::new(venv.join("bin/python"));
            c.args(["-c", &format!("import urllib.request; print(urllib.request.urlopen('http://127.0.0.2:{port}/moto-api/data.json').read().decode())")]);
            c
        },
        None,
        CELL_TIMEOUT,
    );
    assert!(state.stdout().contains("mcp-bucket"), "moto recorded the inline session policy:{}", state.describe());

    // `secrets check` mints too, and says when the credentials expire (900 s TTL).
    let mut check = mcpcell_cmd(&["secrets", "check", s(&profile)]);
    for (k, v) in base {
        check.env(k, v);
    }
    let out = run_cmd(check, None, CELL_TIMEOUT);
    assert_code(&out, 0, "secrets check of an aws-sts secret");
    let text = out.stdout();
    assert!(text.contains("ok      AWS") && text.contains("expires 20"), "{}", out.describe());
    assert!(text.contains("not refreshed (env delivery"), "{}", out.describe());
}

/// oauth2-mock-server on loopback, its request log, and the npm package it runs.
fn oauth2_issuer(sc: &Scratch) -> (HostProc, u16, std::path::PathBuf) {
    let npm_root = run_cmd(
        {
            let mut c = std::process::Command::new("npm");
            c.args(["root", "-g"]);
            c
        },
        None,
        CELL_TIMEOUT,
    );
    let main = std::path::PathBuf::from(npm_root.stdout().trim()).join("oauth2-mock-server/dist/index.mjs");
    assert!(main.exists(), "oauth2-mock-server is not installed ({}): run scripts/test", main.display());
    let port = free_port("127.0.0.1");
    let log = sc.join("issuer.jsonl");
    let mut node = std::process::Command::new("node");
    node.arg(secrets_dir().join("oauth2_mock.mjs")).arg(port.to_string()).arg(&log).env("OAUTH2_MOCK_SERVER", &main);
    (start_issuer(node, "127.0.0.1", port), port, log)
}

const CLIENT_SECRET: &str = "client-secret-canary-51c9";

#[test]
fn oauth2_client_credentials_sends_resource_audience_scope_and_revokes_at_exit() {
    let sc = Scratch::new("secrets-oauth2");
    let (_issuer, port, log) = oauth2_issuer(&sc);
    let profile = sc.file(
        "oauth.toml",
        &format!(
            "[server]\ncommand = \"/usr/bin/python3\"\nargs = [\"{script}\"]\n\n[filesystem]\nread = [\"{dir}\"]\n\n\
             [secrets.API]\nsource = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"mcp-e2e\"\n\
             client_secret = \"env:MCPCELL_TEST_CLIENT_SECRET\"\nresource = \"https://mcp.example.test/\"\n\
             audience = \"mcp-api\"\nscope = [\"files:read\", \"files:list\"]\n\
             revocation_url = \"http://127.0.0.1:{port}/revoke\"\nenv = \"API_TOKEN\"\n",
            script = s(&secrets_dir().join("token_claims.py")),
            dir = s(&secrets_dir()),
        ),
    );
    let out = run_profile(&profile, &[("MCPCELL_TEST_CLIENT_SECRET", CLIENT_SECRET)], &[]);
    assert_code(&out, 0, "a server reading its OAuth2 access token");
    let stdout = out.stdout();
    // The issuer made the resource the token's audience: the server holds a token for exactly it.
    assert!(stdout.contains("aud \"https://mcp.example.test/\""), "{}", out.describe());
    assert!(stdout.contains("scope \"files:read files:list\""), "{}", out.describe());
    assert!(!format!("{stdout}{}", out.stderr()).contains(CLIENT_SECRET), "client secret printed:{}", out.describe());
    let entries = log_lines(&log);
    let token =
        entries.iter().find(|e| e["event"] == "token").unwrap_or_else(|| panic!("no token request: {entries:?}"));
    assert_eq!(token["grant_type"], "client_credentials");
    assert_eq!(token["resource"], "https://mcp.example.test/", "RFC 8707 resource sent: {token}");
    assert_eq!(token["audience"], "mcp-api");
    assert_eq!(token["scope"], "files:read files:list");
    assert_eq!(token["basic_auth"], true, "client secret sent with HTTP Basic: {token}");
    // Revocation is asynchronous on the issuer's side: give its log a moment.
    let revoked = eventually(std::time::Duration::from_secs(10), || {
        log_lines(&log).iter().any(|e| e["event"] == "revoke" && e["known_token"] == true)
    });
    assert!(revoked, "the issued token was revoked at exit (RFC 7009): {:?}", log_lines(&log));
}

#[test]
fn oauth2_token_exchange_sends_the_subject_token_and_resource() {
    let venv = aws_venv();
    let sc = Scratch::new("secrets-xchg");
    let subject = sc.file("upstream-token", "upstream-canary-0a9d\n");
    let port = free_port("127.0.0.1");
    let log = sc.join("stub.jsonl");
    let mut stub = std::process::Command::new(venv.join("bin/python"));
    stub.arg(secrets_dir().join("token_exchange_stub.py")).arg(port.to_string()).arg(&log).arg(&subject);
    let _stub = start_issuer(stub, "127.0.0.1", port);
    let profile = sc.file(
        "xchg.toml",
        &format!(
            "[server]\ncommand = \"/usr/bin/env\"\n\n[secrets.API]\nsource = \"oauth2\"\ngrant = \"token_exchange\"\n\
             token_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"mcp-e2e\"\nsubject_token = \"file:{}\"\n\
             resource = [\"https://mcp.example.test/a\", \"https://mcp.example.test/b\"]\naudience = \"mcp-api\"\n\
             env = \"API_TOKEN\"\n",
            s(&subject)
        ),
    );
    let out = run_profile(&profile, &[], &[]);
    assert_code(&out, 0, "a server given an exchanged token");
    assert!(
        out.stdout().contains("API_TOKEN=[REDACTED:API]"),
        "delivered and redacted (marker names the secret):{}",
        out.describe()
    );
    assert!(!format!("{}{}", out.stdout(), out.stderr()).contains("upstream-canary-0a9d"), "{}", out.describe());
    let entries = log_lines(&log);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["problems"], serde_json::json!([]), "a valid RFC 8693 request: {entries:?}");
    assert_eq!(
        entries[0]["resource"],
        serde_json::json!(["https://mcp.example.test/a", "https://mcp.example.test/b"]),
        "every RFC 8707 resource sent"
    );
    assert_eq!(entries[0]["audience"], "mcp-api");
    assert_eq!(entries[0]["client_id"], "mcp-e2e", "a public client names itself in the body");
}

/// An RSA key pair for a GitHub App: (private PEM path, public PEM path).
fn app_keys(sc: &Scratch, venv: &std::path::Path, tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (private, public) = (sc.join(&format!("{tag}.pem")), sc.join(&format!("{tag}.pub.pem")));
    let script = format!(
        "from cryptography.hazmat.primitives.asymmetric import rsa\n\
         from cryptography.hazmat.primitives import serialization as s\n\
         k = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
         open('{}', 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))\n\
         open('{}', 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n",
        s(&private),
        s(&public)
    );
    let mut c = std::process::Command::new(venv.join("bin/python"));
    c.args(["-c", &script]);
    assert_code(&run_cmd(c, None, CELL_TIMEOUT), 0, "generating an RSA key");
    (private, public)
}

fn github_profile(sc: &Scratch, name: &str, port: u16, key: &std::path::Path) -> std::path::PathBuf {
    sc.file(
        name,
        &format!(
            "[server]\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"echo \\\"path=$GITHUB_TOKEN_FILE\\\"; cat \\\"$GITHUB_TOKEN_FILE\\\"; echo\"]\n\n\
             [secrets.GITHUB_TOKEN]\nsource = \"github-app\"\napp_id = 4242\ninstallation_id = 99\n\
             private_key = \"file:{}\"\nrepositories = [\"repo-a\"]\npermissions = {{ contents = \"read\", issues = \"write\" }}\n\
             api_url = \"http://127.0.0.1:{port}\"\ndelivery = \"file\"\n",
            s(key)
        ),
    )
}

#[test]
fn github_app_token_is_scoped_delivered_as_a_file_and_revoked_at_exit() {
    let venv = aws_venv();
    let sc = Scratch::new("secrets-github");
    let (private, public) = app_keys(&sc, &venv, "app");
    let port = free_port("127.0.0.1");
    let log = sc.join("github.jsonl");
    let mut stub = std::process::Command::new(venv.join("bin/python"));
    stub.arg(secrets_dir().join("github_app_stub.py"))
        .arg(port.to_string())
        .arg(&log)
        .arg(&public)
        .args(["4242", "99"]);
    let _stub = start_issuer(stub, "127.0.0.1", port);

    let out = run_profile(&github_profile(&sc, "gh.toml", port, &private), &[], &[]);
    assert_code(&out, 0, "a server reading its installation token file");
    let stdout = out.stdout();
    assert!(stdout.contains("path=/run/mcpcell/secrets/GITHUB_TOKEN"), "{}", out.describe());
    assert!(
        stdout.contains("[REDACTED:GITHUB_TOKEN]"),
        "the file held the token, redacted on the way out:{}",
        out.describe()
    );
    assert!(!stdout.contains("ghs_"), "{}", out.describe());
    let entries = log_lines(&log);
    let token = entries.iter().find(|e| e["event"] == "token").unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(token["jwt"], "valid", "RS256 JWT verified with the App's public key: {token}");
    assert_eq!(token["repositories"], serde_json::json!(["repo-a"]));
    assert_eq!(token["permissions"], serde_json::json!({"contents": "read", "issues": "write"}));
    assert!(
        entries
            .iter()
            .any(|e| e["event"] == "revoke" && e["path"] == "/installation/token" && e["known_token"] == true),
        "the installation token was revoked at exit: {entries:?}"
    );

    // `secrets check` reports when the token expires and when its file would be rewritten.
    let out = run_cmd(mcpcell_cmd(&["secrets", "check", s(&sc.join("gh.toml"))]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "secrets check of a github-app secret");
    let text = out.stdout();
    assert!(text.contains("ok      GITHUB_TOKEN") && text.contains("expires 20"), "{}", out.describe());
    assert!(text.contains("file rewritten from 20"), "{}", out.describe());
    assert!(text.contains("minted for this check, revoked"), "{}", out.describe());
    assert!(!text.contains("ghs_"), "{}", out.describe());

    // Even at the most verbose log level, no token, JWT or key reaches a log line.
    let mut verbose = mcpcell_cmd(&["-vv", "run", s(&sc.join("gh.toml"))]);
    verbose.env_remove("MCPCELL_LOG");
    let out = run_cmd(verbose, None, CELL_TIMEOUT);
    assert_code(&out, 0, "the same run at -vv");
    let logs = out.stderr();
    assert!(logs.contains("DEBUG"), "positive control: -vv logs at debug level:{}", out.describe());
    for leak in ["ghs_", "Bearer", "eyJ", "PRIVATE KEY"] {
        assert!(!logs.contains(leak), "{leak:?} in the logs:{}", out.describe());
    }

    // Control: a JWT signed with another key is refused by the stub, so the start is refused.
    let (other, _) = app_keys(&sc, &venv, "other");
    let out = run_profile(&github_profile(&sc, "wrong-key.toml", port, &other), &[], &[]);
    assert_code(&out, 125, "a start whose App JWT the issuer rejects");
    assert!(
        out.stderr().contains("secret GITHUB_TOKEN: source github-app") && out.stderr().contains("HTTP 401"),
        "{}",
        out.describe()
    );
    assert!(!out.stdout().contains("path="), "the server never started:{}", out.describe());
    assert_eq!(log_lines(&log).iter().filter(|e| e["jwt"] == "bad signature").count(), 1);
}

/// Each bad input: a clear error naming the secret and its source, no start, no value printed.
#[test]
fn bad_secret_inputs_stop_the_start_with_a_clear_error() {
    let venv = aws_venv();
    let sc = Scratch::new("secrets-bad");
    let closed = free_port("127.0.0.1"); // nothing listens there once the probe socket is closed
    let garbage_port = free_port("127.0.0.1");
    let mut garbage = std::process::Command::new(venv.join("bin/python"));
    garbage.arg(secrets_dir().join("garbage_issuer.py")).arg(garbage_port.to_string());
    let _garbage = start_issuer(garbage, "127.0.0.1", garbage_port);
    // Redirects to the closed port: following it would fail with "connection refused" instead.
    let redirect_port = free_port("127.0.0.1");
    let mut redirect = std::process::Command::new(venv.join("bin/python"));
    redirect
        .arg(secrets_dir().join("garbage_issuer.py"))
        .arg(redirect_port.to_string())
        .arg(format!("http://127.0.0.1:{closed}/token"));
    let _redirect = start_issuer(redirect, "127.0.0.1", redirect_port);
    let server = "[server]\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"echo SERVER-STARTED\"]\n\n";
    let oauth = |url: &str| {
        format!(
            "[secrets.API]\nsource = \"oauth2\"\ntoken_url = \"{url}\"\nclient_id = \"c\"\n\
             client_secret = \"env:MCPCELL_TEST_CLIENT_SECRET\"\nresource = \"https://mcp.example.test/\"\n"
        )
    };
    let strings = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let down_url = format!("127.0.0.1:{closed}/token");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        ("unknown source", "[secrets.API]\nsource = \"vault\"\n".into(), strings(&["secrets.API.source", "unknown source kind \"vault\""])),
        (
            "missing key file",
            "[secrets.GH]\nsource = \"github-app\"\napp_id = 1\ninstallation_id = 2\nprivate_key = \"file:/nonexistent/app.pem\"\napi_url = \"http://127.0.0.1:9\"\n".into(),
            strings(&["secret GH", "source github-app", "private_key", "/nonexistent/app.pem"]),
        ),
        (
            "issuer down",
            oauth(&format!("http://127.0.0.1:{closed}/token")),
            strings(&["secret API", "source oauth2", &down_url, "connection refused"]),
        ),
        (
            "issuer returns garbage",
            oauth(&format!("http://127.0.0.1:{garbage_port}/token")),
            strings(&["secret API", "source oauth2", "unexpected answer (HTTP 200", "markup"]),
        ),
        (
            "issuer redirects",
            oauth(&format!("http://127.0.0.1:{redirect_port}/token")),
            strings(&["secret API", "source oauth2", "refused (HTTP 307)"]),
        ),
        (
            "no OS keyring (headless)",
            "[secrets.KR]\nsource = \"keyring\"\nservice = \"mcpcell-e2e\"\nuser = \"me\"\n".into(),
            strings(&["secret KR", "source keyring", "no OS keyring is available", "source = \"command\""]),
        ),
    ];
    for (what, secret, expect) in cases {
        let profile = sc.file(&format!("{}.toml", what.replace(' ', "-")), &format!("{server}{secret}"));
        // Headless: no session bus for the keyring case (and none needed by the others).
        let env = [("MCPCELL_TEST_CLIENT_SECRET", CLIENT_SECRET)];
        let out = run_profile(&profile, &env, &["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"]);
        assert_code(&out, 125, what);
        let all = format!("{}{}", out.stdout(), out.stderr());
        assert!(!all.contains("SERVER-STARTED"), "{what}: the server must not start:{}", out.describe());
        assert!(!all.contains(CLIENT_SECRET), "{what}: a secret was printed");
        for needle in &expect {
            assert!(all.contains(needle.as_str()), "{what}: the error should say {needle:?}:{}", out.describe());
        }
        if what != "unknown source" {
            let mut check = mcpcell_cmd(&["secrets", "check", s(&profile)]);
            check
                .env("MCPCELL_TEST_CLIENT_SECRET", CLIENT_SECRET)
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                .env_remove("XDG_RUNTIME_DIR");
            let out = run_cmd(check, None, CELL_TIMEOUT);
            assert_code(&out, 1, &format!("secrets check: {what}"));
            assert!(out.stdout().contains(&format!("FAILED  {}", expect[0])), "{what}:{}", out.describe());
            assert!(!format!("{}{}", out.stdout(), out.stderr()).contains(CLIENT_SECRET));
        }
    }
}

#[test]
fn explain_describes_secrets_without_obtaining_them() {
    let sc = Scratch::new("secrets-explain");
    let marker = sc.join("helper-ran");
    let issuer_port = free_port("127.0.0.1");
    // An issuer that records any request: explain must send none.
    let listener = std::net::TcpListener::bind(("127.0.0.1", issuer_port)).expect("bind the fake issuer port");
    listener.set_nonblocking(true).unwrap();
    let profile = sc.file(
        "explain.toml",
        &format!(
            "[server]\ncommand = \"/bin/true\"\n\n\
             [secrets.A_HELPER]\nsource = \"command\"\ncommand = [\"/usr/bin/touch\", \"{}\"]\n\n\
             [secrets.GITHUB_TOKEN]\nsource = \"github-app\"\napp_id = 1\ninstallation_id = 2\nprivate_key = \"file:/nonexistent.pem\"\n\
             repositories = [\"repo-a\"]\npermissions = {{ contents = \"read\" }}\napi_url = \"http://127.0.0.1:{issuer_port}\"\ndelivery = \"file\"\n",
            s(&marker)
        ),
    );
    let out = run_cmd(mcpcell_cmd(&["explain", s(&profile)]), None, CELL_TIMEOUT);
    assert_code(&out, 0, "explain of a profile with a helper and a minted secret");
    let text = out.stdout();
    assert!(!marker.exists(), "explain ran the helper command");
    assert!(listener.accept().is_err(), "explain contacted the issuer");
    for needle in [
        "environment (nothing inherited): PATH, HOME, USER, LOGNAME, TMPDIR, LANG, A_HELPER, GITHUB_TOKEN_FILE",
        "read-only:  /run/mcpcell/secrets (the secret files; see Secrets)",
        "GITHUB_TOKEN: from github-app 1 installation 2",
        "for repo-a with contents:read",
        "delivered as file /run/mcpcell/secrets/GITHUB_TOKEN (read-only, tmpfs; path in env GITHUB_TOKEN_FILE)",
        "obtained again and the file rewritten at 75% of its life; revoked at exit",
        "explain itself obtains nothing",
        "stdio goes through mcpcell's MCP-aware relay",
    ] {
        assert!(text.contains(needle), "explain should say {needle:?}:{}", out.describe());
    }
    // Positive control: starting it does run the helper (and then fails on the missing key).
    let out = run_cmd(mcpcell_cmd(&["run", s(&profile)]), None, CELL_TIMEOUT);
    assert_code(&out, 125, "run with a missing App key");
    assert!(marker.exists(), "run obtains secrets in name order (the helper ran first):{}", out.describe());
}

#[test]
fn a_keyring_secret_is_read_from_the_secret_service() {
    // A real Secret Service: gnome-keyring on a private D-Bus session (apt: dbus-daemon,
    // dbus-bin, gnome-keyring, libsecret-tools; .ci/run installs them).
    for tool in ["dbus-run-session", "dbus-send", "gnome-keyring-daemon", "secret-tool"] {
        assert!(
            std::path::Path::new("/usr/bin").join(tool).exists(),
            "{tool} is missing: apt-get install dbus-daemon dbus-bin gnome-keyring libsecret-tools (.ci/run does)"
        );
    }
    const VALUE: &str = "keyring-canary-3b8c";
    let sc = Scratch::new("secrets-keyring");
    let profile = sc.file(
        "kr.toml",
        "[server]\ncommand = \"/usr/bin/env\"\n\n[secrets.KR]\nsource = \"keyring\"\nservice = \"mcpcell-e2e\"\nuser = \"ada\"\n",
    );
    let home = sc.dir("home");
    let in_session = |args: &[&str]| {
        let mut c = std::process::Command::new("dbus-run-session");
        c.arg("--")
            .arg(secrets_dir().join("with_keyring.sh"))
            .args(["mcpcell-e2e", "ada", VALUE])
            .arg(mcpcell())
            .args(args);
        // A throwaway home for the bus and the keyring (never the user's keyrings).
        c.env_remove("DBUS_SESSION_BUS_ADDRESS").env("HOME", &home).env_remove("XDG_RUNTIME_DIR");
        run_cmd(c, None, CELL_TIMEOUT)
    };
    let out = in_session(&["run", s(&profile)]);
    assert_code(&out, 0, "a server given a keyring secret");
    assert!(out.stdout().contains("KR=[REDACTED:KR]"), "delivered from the keyring and redacted:{}", out.describe());
    assert!(!format!("{}{}", out.stdout(), out.stderr()).contains(VALUE), "the value was printed");
    let out = in_session(&["secrets", "check", s(&profile)]);
    assert_code(&out, 0, "secrets check of a keyring secret");
    assert!(out.stdout().contains(&format!("ok      KR ({} characters", VALUE.len())), "{}", out.describe());
    // The D-Bus client leaves a runtime thread behind, so the lookup runs in a child process:
    // the launcher must be single-threaded when it clones the cell. While a server runs, the
    // launcher has no such thread.
    let sleeper = sc.file(
        "sleeper.toml",
        &std::fs::read_to_string(&profile).unwrap().replace("/usr/bin/env\"", "/bin/sleep\"\nargs = [\"3\"]"),
    );
    let mut c = std::process::Command::new("dbus-run-session");
    c.arg("--")
        .arg(secrets_dir().join("with_keyring.sh"))
        .args(["mcpcell-e2e", "ada", VALUE])
        .arg(mcpcell())
        .args(["run", s(&sleeper)]);
    c.env_remove("DBUS_SESSION_BUS_ADDRESS").env("HOME", &home).env_remove("XDG_RUNTIME_DIR");
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let cmdline = render(&c);
    let mut child = c.spawn().expect("spawn dbus-run-session");
    let stdin = child.stdin.take();
    let launcher = format!("{} run {}", s(&mcpcell()), s(&sleeper));
    // The launcher (and the cell's init, a clone of it), not the wrappers naming it.
    let launchers = || -> Vec<(u32, String)> {
        procs_with(&launcher).into_iter().filter(|(_, cmd)| cmd.starts_with(&launcher)).collect()
    };
    let started = eventually(std::time::Duration::from_secs(30), || !launchers().is_empty());
    // Past the start (the relay's thread exists once the cell runs).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let threads: Vec<String> = launchers()
        .iter()
        .flat_map(|(pid, _)| std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten())
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect();
    let out = wait_out(child, cmdline, CELL_TIMEOUT);
    drop(stdin);
    assert!(started, "the launcher and the cell were running:{}", out.describe());
    assert!(threads.iter().any(|t| t == "mcpcell"), "positive control: threads were read: {threads:?}");
    assert!(!threads.iter().any(|t| t.starts_with("tokio") || t.contains("zbus")), "{threads:?}");
    assert_code(&out, 0, "a sleeping server given a keyring secret");

    // Control: an entry that is not there is a clear error, not a start.
    let missing = sc
        .file("missing.toml", &std::fs::read_to_string(&profile).unwrap().replace("user = \"ada\"", "user = \"bob\""));
    let out = in_session(&["run", s(&missing)]);
    assert_code(&out, 125, "a keyring entry that does not exist");
    assert!(
        out.stderr().contains("secret KR: source keyring") && out.stderr().contains("no such entry"),
        "{}",
        out.describe()
    );
}
