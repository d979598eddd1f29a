//! Every error class, with its exact `path:line:column: message`.

use std::path::PathBuf;

use mcpcell_profiles::{parse_str, LoadContext, Origin, ProfileError};

fn ctx() -> LoadContext {
    LoadContext { home: PathBuf::from("/home/u"), profile_dirs: Vec::new(), check_paths: false }
}

fn error(text: &str) -> String {
    match parse_str(text, Origin::File(PathBuf::from("p.toml")), &ctx()) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e.to_string(),
    }
}

const CMD: &str = "[server]\ncommand = \"srv\"\n";

/// `CMD` followed by `rest`: errors in `rest` start on line 3.
fn with_cmd(rest: &str) -> String {
    error(&format!("{CMD}{rest}"))
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        error("description = \"x\"\nsever = 1\n"),
        "p.toml:2:1: unknown key \"sever\" at the top level; expected one of: description, extends, server, filesystem, network, secrets, limits, sandbox, tools, audit"
    );
}

#[test]
fn unknown_nested_keys() {
    assert_eq!(
        with_cmd("[filesystem]\n  raed = [\"/x\"]\n"),
        "p.toml:4:3: unknown key \"raed\" in [filesystem]; expected one of: read, write"
    );
    assert_eq!(
        error("[server]\ncommand = \"srv\"\nargv = []\n"),
        "p.toml:3:1: unknown key \"argv\" in [server]; expected one of: command, package, install_scripts, i_mean_it, args, env, cwd"
    );
    assert_eq!(
        with_cmd("[filesystem]\nread = [{ path = \"/x\", optinal = true }]\n"),
        "p.toml:4:24: unknown key \"optinal\" in a [filesystem] read entry; expected one of: path, optional"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\nenv_var = \"X\"\n"),
        "p.toml:5:1: unknown key \"env_var\" in [secrets.T]; expected one of: source, env, delivery, ttl_secs, command, timeout_secs, service, user, role_arn, session_name, policy, endpoint, region, token_url, grant, client_id, client_secret, resource, audience, scope, subject_token, subject_token_type, requested_token_type, revocation_url, app_id, installation_id, private_key, repositories, permissions, api_url"
    );
    assert_eq!(
        with_cmd("[limits]\nmem = 1\n"),
        "p.toml:4:1: unknown key \"mem\" in [limits]; expected one of: memory, pids, cpu_seconds, file_size, open_files, tmpfs_size"
    );
    assert_eq!(
        with_cmd("[sandbox]\nengine = \"jail\"\n"),
        "p.toml:4:1: unknown key \"engine\" in [sandbox]; expected one of: backend, landlock_min_abi, shutdown_grace_ms, image"
    );
    assert_eq!(
        with_cmd("[network]\nallow = []\n"),
        "p.toml:4:1: unknown key \"allow\" in [network]; expected one of: egress"
    );
}

#[test]
fn top_level_key_after_a_table() {
    assert_eq!(
        error("[server]\ncommand = \"srv\"\nextends = \"memory\"\n"),
        "p.toml:3:1: unknown key \"extends\" in [server]; expected one of: command, package, install_scripts, i_mean_it, args, env, cwd (\"extends\" is a top-level key: move it above the first [table] header)"
    );
}

#[test]
fn wrong_types() {
    assert_eq!(
        error("[server]\ncommand = 42\n"),
        "p.toml:2:11: server.command: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(
        with_cmd("args = [\"a\", 2]\n"),
        // `args` after [server]'s command is still in [server].
        "p.toml:3:14: server.args[1]: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(error("server = \"srv\"\n"), "p.toml:1:10: server: expected a table, found a string");
    assert_eq!(
        with_cmd("[filesystem]\nread = \"/x\"\n"),
        "p.toml:4:8: filesystem.read: expected an array, found a string"
    );
    assert_eq!(with_cmd("[limits]\npids = \"many\"\n"), "p.toml:4:8: limits.pids: expected an integer, found a string");
    assert_eq!(
        with_cmd("env = { PORT = 8080 }\n"),
        "p.toml:3:16: server.env.PORT: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(
        error("description = 1979-05-27\n[server]\ncommand = \"srv\"\n"),
        "p.toml:1:15: description: expected a string, found a date-time; put the value in quotes"
    );
}

#[test]
fn toml_syntax_error() {
    assert_eq!(error("[server]\ncommand = \"srv\n"), "p.toml:2:15: invalid TOML: invalid basic string; fix the syntax");
}

#[test]
fn bad_hosts() {
    let cases = [
        ("10.0.0.1", "hosts must be names, not IP addresses; write the hostname"),
        ("10.0.0.1:8080", "hosts must be names, not IP addresses; write the hostname"),
        ("::1", "hosts must be names, not IP addresses; write the hostname"),
        ("[2001:db8::1]:443", "hosts must be names, not IP addresses; write the hostname"),
        ("10.1", "hosts must be names, not IP addresses; write the hostname"),
        ("10.0.0.0/8", "address ranges are not supported; list the hostnames the server needs"),
        ("https://api.github.com/x", "write just the host (and optional :port), without a scheme: \"api.github.com\""),
        ("api.github.com/repos", "write just the host (and optional :port), without a path: \"api.github.com\""),
        ("example.com:*", "ports must be numbers from 1 to 65535; list each port as its own entry"),
        ("example.com:0", "port must be a number from 1 to 65535"),
        ("example.com:65536", "port must be a number from 1 to 65535"),
        ("example.com:", "port must be a number from 1 to 65535"),
        ("*", "a bare \"*\" would allow every host; list the hosts the server needs"),
        ("*.com", "\"*.com\" would allow a whole top-level domain; name at least two labels, like \"*.example.com\""),
        ("api.*.com", "\"*\" is only allowed as the whole first label, like \"*.example.com\""),
        ("*api.com", "\"*\" is only allowed as the whole first label, like \"*.example.com\""),
        ("*.*.example.com", "\"*\" is only allowed as the whole first label, like \"*.example.com\""),
        ("bad_host.com", "\"bad_host\" is not a valid DNS label (1 to 63 letters, digits or \"-\", not starting or ending with \"-\")"),
        ("-a.com", "\"-a\" is not a valid DNS label (1 to 63 letters, digits or \"-\", not starting or ending with \"-\")"),
        ("a..com", "host name has an empty label (\"..\" or a leading \".\"); fix the hostname"),
        ("", "empty; write a hostname like \"api.github.com\""),
    ];
    for (entry, why) in cases {
        let text = format!("[network]\negress = [\"{entry}\"]\n{CMD}");
        assert_eq!(error(&text), format!("p.toml:2:11: egress entry \"{entry}\": {why}"), "{entry}");
    }
    let long_label = "a".repeat(64);
    let text = format!("[network]\negress = [\"{long_label}.com\"]\n{CMD}");
    assert!(error(&text).contains(&format!("\"{long_label}\" is not a valid DNS label")));
    let long_name = vec!["abcdefghi"; 26].join(".");
    let text = format!("[network]\negress = [\"{long_name}\"]\n{CMD}");
    assert_eq!(
        error(&text),
        format!("p.toml:2:11: egress entry \"{long_name}\": host name is longer than 253 characters")
    );
    assert!(error(&format!("[network]\negress = [\"bücher.de\"]\n{CMD}"))
        .ends_with("write internationalised names in punycode (xn--...)"));
}

#[test]
fn bad_egress_tables() {
    assert_eq!(
        with_cmd("[network]\negress = [{ host = \"db.internal\", allow_privat = true }]\n"),
        "p.toml:4:35: unknown key \"allow_privat\" in a [network] egress entry; expected one of: host, port, allow_private"
    );
    assert_eq!(
        with_cmd("[network]\negress = [\"a.example.com\", { host = \"db.internal:5432\", port = 5432 }]\n"),
        "p.toml:4:64: network.egress[1]: the port is given twice, in host = \"db.internal:5432\" and port = 5432; remove \":5432\" from host"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ host = \"db.internal\", allow_private = \"yes\" }]\n"),
        "p.toml:4:51: network.egress[0].allow_private: expected a boolean (true or false), found a string"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ host = \"db.internal\", port = \"5432\" }]\n"),
        "p.toml:4:42: network.egress[0].port: expected an integer, found a string"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ host = \"db.internal\", port = 0 }]\n"),
        "p.toml:4:42: network.egress[0].port = 0 is out of range; use a port number from 1 to 65535"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ host = 5432 }]\n"),
        "p.toml:4:20: network.egress[0].host: expected a string, found an integer; put the value in quotes"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ port = 5432, allow_private = true }]\n"),
        "p.toml:4:11: network.egress[0] has no host; write { host = \"db.internal\", port = 5432, allow_private = true }"
    );
    assert_eq!(
        with_cmd("[network]\negress = [{ host = \"10.0.0.5\", allow_private = true }]\n"),
        "p.toml:4:20: egress entry \"10.0.0.5\": hosts must be names, not IP addresses; write the hostname"
    );
    assert_eq!(
        with_cmd("[network]\negress = [443]\n"),
        "p.toml:4:11: network.egress[0]: expected a string \"host[:port]\" or a table { host = \"...\", port = 443, allow_private = true }, found an integer"
    );
    assert_eq!(
        with_cmd("[network]\negress = [\n  \"db.internal:5432\",\n  { host = \"DB.internal\", port = 5432, allow_private = true },\n]\n"),
        "p.toml:6:3: egress entry \"db.internal:5432\" is listed twice with different allow_private; keep one entry, with allow_private = true only if the server must reach a private address"
    );
}

#[test]
fn bad_sizes() {
    assert_eq!(
        with_cmd("[limits]\nmemory = \"12XB\"\n"),
        "p.toml:4:10: limits.memory \"12XB\": unknown unit \"XB\"; use B, KiB, MiB, GiB or TiB, like \"512MiB\""
    );
    assert_eq!(
        with_cmd("[limits]\nmemory = \"512MB\"\n"),
        "p.toml:4:10: limits.memory \"512MB\": unit \"MB\" is ambiguous; sizes are binary, write \"MiB\""
    );
    assert_eq!(
        with_cmd("[limits]\nmemory = \"1.5GiB\"\n"),
        "p.toml:4:10: limits.memory \"1.5GiB\": sizes are whole numbers; use a smaller unit, like \"1536MiB\" instead of \"1.5GiB\""
    );
    assert_eq!(
        with_cmd("[limits]\nmemory = 0\n"),
        "p.toml:4:10: limits.memory = 0 is out of range; use a size from 16MiB to 1TiB"
    );
    assert_eq!(
        with_cmd("[limits]\ntmpfs_size = \"2TiB\"\n"),
        "p.toml:4:14: limits.tmpfs_size = \"2TiB\" is out of range; use a size from 1MiB to 1TiB"
    );
    assert_eq!(
        with_cmd("[limits]\nfile_size = -5\n"),
        "p.toml:4:13: limits.file_size = -5 is out of range; use a size from 1B to 1TiB"
    );
    assert_eq!(
        with_cmd("[limits]\nmemory = true\n"),
        "p.toml:4:10: limits.memory: expected a size (a string like \"512MiB\" or a number of bytes), found a boolean"
    );
}

#[test]
fn bad_numbers() {
    assert_eq!(
        with_cmd("[limits]\npids = 0\n"),
        "p.toml:4:8: limits.pids = 0 is out of range; use a number from 1 to 4194304"
    );
    assert_eq!(
        with_cmd("[limits]\nopen_files = 8\n"),
        "p.toml:4:14: limits.open_files = 8 is out of range; use a number from 16 to 1048576"
    );
    assert_eq!(
        with_cmd("[sandbox]\nlandlock_min_abi = 8\n"),
        "p.toml:4:20: sandbox.landlock_min_abi = 8 is out of range; use 1 to 7, or 0 to make Landlock optional"
    );
    assert_eq!(
        with_cmd("[sandbox]\nbackend = \"docker\"\n"),
        "p.toml:4:11: sandbox.backend \"docker\" is not a backend; use \"jail\" or \"container\""
    );
    assert_eq!(
        with_cmd("[sandbox]\nimage = \"node 22\"\n"),
        "p.toml:4:9: sandbox.image \"node 22\" is not an image reference (e.g. \"mcpcell/node:0.1.0-3\")"
    );
}

#[test]
fn relative_and_odd_paths() {
    assert_eq!(
        with_cmd("[filesystem]\nread = [\"docs\"]\n"),
        "p.toml:4:9: path \"docs\" is relative; write an absolute path or one starting with \"~/\""
    );
    assert_eq!(
        with_cmd("[filesystem]\nwrite = [{ path = \"./out\" }]\n"),
        "p.toml:4:19: path \"./out\" is relative; write an absolute path or one starting with \"~/\""
    );
    assert_eq!(
        with_cmd("[filesystem]\nread = [\"~bob/x\"]\n"),
        "p.toml:4:9: path \"~bob/x\": only \"~\" and \"~/...\" are expanded (to the invoking user's home); write an absolute path instead"
    );
    assert_eq!(
        error("[server]\ncommand = \"srv\"\ncwd = \"work\"\n"),
        "p.toml:3:7: server.cwd: path \"work\" is relative; write an absolute path or one starting with \"~/\""
    );
    assert_eq!(
        error("[server]\ncommand = \"bin/srv\"\n"),
        "p.toml:2:11: server.command \"bin/srv\" is a relative path; use a bare program name (found via PATH) or an absolute path"
    );
    assert_eq!(
        with_cmd("[filesystem]\nread = [{ optional = true }]\n"),
        "p.toml:4:9: filesystem.read[0] has no path; write { path = \"~/dir\", optional = true }"
    );
}

#[test]
fn whole_filesystem_grant() {
    for (list, path, col) in [("read", "/", 9), ("write", "/", 10), ("read", "/usr/..", 9), ("write", "~/../..", 10)] {
        assert_eq!(
            with_cmd(&format!("[filesystem]\n{list} = [\"{path}\"]\n")),
            format!("p.toml:4:{col}: path \"{path}\": granting the whole filesystem defeats the cell; grant only the directories the server needs")
        );
    }
}

#[test]
fn read_and_write_same_path() {
    assert_eq!(
        with_cmd("[filesystem]\nread = [\"~/p\"]\nwrite = [\"/home/u/p/\"]\n"),
        "p.toml:5:10: path \"/home/u/p/\" is granted both read and write; pick one (write already allows reading)"
    );
}

#[test]
fn missing_command() {
    assert_eq!(
        error("description = \"x\"\n[server]\nargs = []\n"),
        "p.toml:1:1: [server] command is missing; add [server] command = \"...\" naming the MCP server program, package = \"npm:...\" or \"pypi:...\", or extends = a profile that sets one"
    );
    assert_eq!(
        error(""),
        "p.toml:1:1: [server] command is missing; add [server] command = \"...\" naming the MCP server program, package = \"npm:...\" or \"pypi:...\", or extends = a profile that sets one"
    );
}

#[test]
fn secret_errors() {
    // The argv is never taken from the source string (no shell-style splitting); not echoed either.
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command:gh auth token\"\n"),
        "p.toml:4:10: secrets.T.source: a command source is written source = \"command\" with its argv in command = [\"program\", \"arg\", ...] (no shell)"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"vault\"\n"),
        "p.toml:4:10: secrets.T.source: unknown source kind \"vault\"; supported: env, file, command, keyring, aws-sts, oauth2, github-app"
    );
    // A pasted token is never repeated back.
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"ghp_SECRETSECRETSECRET\"\n"),
        "p.toml:4:10: secrets.T.source: a source is \"env:NAME\", \"file:PATH\", \"command\" or a kind such as \"oauth2\" (supported: env, file, command, keyring, aws-sts, oauth2, github-app); never the secret value itself"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\nvalue = \"ghp_SECRET\"\n"),
        "p.toml:5:1: secret values never go in a profile; use source = \"env:...\" or \"file:...\""
    );
    assert_eq!(
        with_cmd("[secrets]\nT = \"ghp_SECRET\"\n"),
        "p.toml:4:5: secrets.T must be a table, not a string (secret values never go in a profile); write [secrets.T] with source = \"env:...\" or \"file:...\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nenv = \"X\"\n"),
        "p.toml:3:10: [secrets.T] has no source; add source = \"env:NAME\", \"file:PATH\", \"command\", \"keyring\", \"aws-sts\", \"oauth2\" or \"github-app\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"file:token\"\n"),
        "p.toml:4:10: secrets.T.source: file source: path \"token\" is relative; write an absolute path or one starting with \"~/\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:1X\"\n"),
        "p.toml:4:10: secrets.T.source: \"1X\" is not a valid environment variable name; write source = \"env:NAME\", like \"env:GH_TOKEN\""
    );
    assert_eq!(
        with_cmd("[secrets.gh-token]\nsource = \"env:GH\"\n"),
        "p.toml:3:10: secret name \"gh-token\" is not a valid environment variable name, so it needs env = \"...\" naming the variable to deliver it as"
    );
}

#[test]
fn minted_and_delivery_errors() {
    const GH: &str =
        "[secrets.T]\nsource = \"github-app\"\napp_id = 1\ninstallation_id = 2\nprivate_key = \"file:/k.pem\"\n";
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"github-app\"\napp_id = 1\n"),
        "p.toml:4:10: secrets.T: source = \"github-app\" needs installation_id (like installation_id = 6789012)"
    );
    assert_eq!(
        with_cmd(&format!("{GH}api_url = \"http://github.example.com\"\n")),
        "p.toml:8:1: secrets.T: api_url: \"http://github.example.com\" is plain http to a non-loopback host; use https (http is only accepted for 127.0.0.1, [::1] and localhost)"
    );
    assert_eq!(
        with_cmd(&format!("{GH}permissions = {{ contents = \"all\" }}\n")),
        "p.toml:8:1: secrets.T: permissions.contents = \"all\": use \"read\", \"write\" or \"admin\""
    );
    assert_eq!(
        with_cmd(&format!("{GH}role_arn = \"arn:aws:iam::1:role/r\"\n")),
        "p.toml:8:1: secrets.T.role_arn is not a setting of source = \"github-app\"; remove it"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"github-app\"\napp_id = 1\ninstallation_id = 2\nprivate_key = \"ghp_pasted\"\n"),
        "p.toml:7:15: secrets.T.private_key: a source is \"env:NAME\", \"file:PATH\", \"command\" or a kind such as \"oauth2\" (supported: env, file, command, keyring, aws-sts, oauth2, github-app); never the secret value itself"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"oauth2\"\ntoken_url = \"https://a/t\"\nclient_id = \"c\"\n"),
        "p.toml:4:10: secrets.T: source = \"oauth2\" needs resource (like resource = \"https://mcp.example.com\" (RFC 8707: the token is only good there))"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"oauth2\"\ntoken_url = \"https://a/t\"\nclient_id = \"c\"\nresource = \"https://r\"\ngrant = \"token_exchange\"\n"),
        "p.toml:4:10: secrets.T: source = \"oauth2\" needs subject_token (like subject_token = \"env:UPSTREAM_TOKEN\")"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"aws-sts\"\nrole_arn = \"arn:aws:iam::1:role/r\"\npolicy = \"{not json\"\n"),
        "p.toml:6:1: secrets.T: policy must be an IAM policy document in JSON (an object with \"Version\" and \"Statement\")"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"aws-sts\"\nrole_arn = \"arn:aws:iam::1:role/r\"\nenv = \"X\"\n"),
        "p.toml:6:7: secrets.T: an aws-sts secret is delivered as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; remove env, or set delivery = \"file\" to name the variable holding the credentials file's path"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\ndelivery = \"pipe\"\n"),
        "p.toml:5:12: secrets.T.delivery = \"pipe\": use \"env\" (an environment variable) or \"file\" (a file on a tmpfs in the cell, its path in an environment variable)"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\nttl_secs = 2\n"),
        "p.toml:5:12: secrets.T.ttl_secs = 2 is out of range; use a number of seconds from 5 to 43200 (12 hours)"
    );
    assert_eq!(
        with_cmd("[secrets.\"a/b\"]\nsource = \"env:T\"\nenv = \"X\"\ndelivery = \"file\"\n"),
        "p.toml:3:10: secret name \"a/b\" cannot be a file name (it names the secret's file); with delivery = \"file\" use letters, digits, \"_\", \".\" and \"-\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\nservice = \"s\"\n"),
        "p.toml:5:1: secrets.T.service is not a setting of source = \"env\"; remove it"
    );
}

#[test]
fn command_secret_errors() {
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\n"),
        "p.toml:4:10: secrets.T: source = \"command\" needs command = [\"program\", \"arg\", ...], the argv to run (no shell)"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"env:T\"\ncommand = [\"gh\", \"auth\", \"token\"]\n"),
        "p.toml:5:11: secrets.T.command is only used with source = \"command\"; remove it or set source = \"command\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"file:/run/t\"\ntimeout_secs = 5\n"),
        "p.toml:5:16: secrets.T.timeout_secs is only used with source = \"command\"; remove it or set source = \"command\""
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\ncommand = []\n"),
        "p.toml:5:11: secrets.T.command is empty; write the program and its arguments, like command = [\"gh\", \"auth\", \"token\"]"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\ncommand = [\"gh\", \"\"]\n"),
        "p.toml:5:18: secrets.T.command[1] is an empty string; remove it (the command runs without a shell, so every entry is one argument)"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\ncommand = \"gh auth token\"\n"),
        "p.toml:5:11: secrets.T.command: expected an array, found a string"
    );
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\ncommand = [\"gh\", 1]\n"),
        "p.toml:5:18: secrets.T.command[1]: expected a string, found an integer; put the value in quotes"
    );
    for bad in ["0", "301"] {
        assert_eq!(
            with_cmd(&format!("[secrets.T]\nsource = \"command\"\ncommand = [\"gh\"]\ntimeout_secs = {bad}\n")),
            format!(
                "p.toml:6:16: secrets.T.timeout_secs = {bad} is out of range; use a number of seconds from 1 to 300"
            )
        );
    }
    assert_eq!(
        with_cmd("[secrets.T]\nsource = \"command\"\ncommand = [\"gh\"]\ntimeout_secs = \"10s\"\n"),
        "p.toml:6:16: secrets.T.timeout_secs: expected an integer, found a string"
    );
}

#[test]
fn duplicate_delivery_env() {
    assert_eq!(
        with_cmd("[secrets.A]\nsource = \"env:A\"\nenv = \"TOKEN\"\n[secrets.B]\nsource = \"env:B\"\nenv = \"TOKEN\"\n"),
        "p.toml:8:7: secret \"B\" is delivered as env \"TOKEN\", which secret \"A\" already uses; give one of them a different env = \"...\""
    );
    assert_eq!(
        error("[server]\ncommand = \"srv\"\nenv = { TOKEN = \"x\" }\n[secrets.TOKEN]\nsource = \"env:T\"\n"),
        "p.toml:4:10: secret \"TOKEN\" is delivered as env \"TOKEN\", which [server] env also sets; remove TOKEN from [server] env or deliver the secret as another variable"
    );
    assert_eq!(
        with_cmd("env = { \"MY-VAR\" = \"1\" }\n"),
        "p.toml:3:9: server.env: \"MY-VAR\" is not a valid environment variable name; use letters, digits and \"_\", not starting with a digit"
    );
}

#[test]
fn builtin_locations_name_the_builtin() {
    let e = parse_str("[server]\ncommand = 1\n", Origin::Builtin("x".into()), &ctx()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "builtin:x:2:11: server.command: expected a string, found an integer; put the value in quotes"
    );
    let loc = e.location().unwrap();
    assert_eq!((loc.file.as_str(), loc.line, loc.column), ("builtin:x", 2, 11));
}

#[test]
fn columns_count_characters() {
    assert_eq!(
        error("description = \"ünïcödé\"; oops = 1\n"),
        "p.toml:1:24: invalid TOML: expected newline, `#`; fix the syntax"
    );
}

#[test]
fn not_found_lists_builtins() {
    let c = LoadContext { profile_dirs: vec![PathBuf::from("/nonexistent/profiles")], ..ctx() };
    let e = mcpcell_profiles::load("nope", &c).unwrap_err();
    assert!(matches!(e, ProfileError::NotFound { .. }));
    assert_eq!(
        e.to_string(),
        "no profile named \"nope\": not a file, not installed (looked in /nonexistent/profiles), not built in; use a path to a .toml file or one of the built-in profiles: brave-search, everything, fetch, filesystem, git, github, gitlab, memory, playwright, postgres, puppeteer, sequential-thinking, slack, time"
    );
    let e = mcpcell_profiles::load("/nonexistent/p.toml", &c).unwrap_err();
    assert!(matches!(e, ProfileError::Io { .. }));
    assert_eq!(
        e.to_string(),
        "/nonexistent/p.toml: cannot read profile: No such file or directory (os error 2); check the path and its permissions"
    );
}
