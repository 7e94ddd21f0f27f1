//! Loading, defaults, environment overrides and the errors people read.

use super::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("secdesk.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const MINIMAL: &str = r#"
[project]
security_address = "security@example.org"
[store]
path = "cases.db"
data_dir = "data"
"#;

#[test]
fn durations() {
    assert_eq!(
        parse_duration("48h").unwrap(),
        Duration::from_secs(48 * 3600)
    );
    assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
    assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
    assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    for bad in ["", "h", "10", "10x", "-5s", "99999999999999h"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_size("25MB").unwrap(), 25_000_000);
    assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
    assert_eq!(parse_size("4096").unwrap(), 4096);
    assert!(parse_size("lots").is_err());
    assert!(parse_size("99999999999999GB").is_err());
}

#[test]
fn cron_forms() {
    let six = |e: &str| parse_cron(e).map(|s| s.to_string());
    assert_eq!(six("*/5 * * * *").unwrap(), "0 */5 * * * *");
    assert_eq!(six("0 */5 * * * *").unwrap(), "0 */5 * * * *");
    assert!(parse_cron("* *").is_err());
    assert!(parse_cron("0 99 * * * *").is_err());
}

#[test]
fn minimal_file_gets_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), MINIMAL);
    let c = load_with_env(&p, BTreeMap::new()).unwrap();
    assert_eq!(c.project.case_prefix, "SEC");
    assert_eq!(c.sla.response_window, Duration::from_secs(48 * 3600));
    assert_eq!(
        c.sla.remind_before,
        vec![
            Duration::from_secs(12 * 3600),
            Duration::from_secs(4 * 3600)
        ]
    );
    assert_eq!(c.store.max_message_size, 25_000_000);
    assert_eq!(c.store.path, dir.path().join("cases.db"));
    assert!(c.imap.is_none());
}

#[test]
fn env_overrides_and_keeps_secret_strings() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\nusername = \"s\"\n"),
    );
    let env = BTreeMap::from([
        ("SECDESK_IMAP__PASSWORD".to_string(), "0123".to_string()),
        ("SECDESK_IMAP__PORT".to_string(), "10143".to_string()),
        (
            "SECDESK_TEAM__LEAD".to_string(),
            "Lead@Example.org, other@example.org".to_string(),
        ),
        (
            "SECDESK_SLA__RESPONSE_WINDOW".to_string(),
            "20s".to_string(),
        ),
    ]);
    let c = load_with_env(&p, env).unwrap();
    let imap = c.imap.unwrap();
    assert_eq!(imap.password.expose(), "0123");
    assert_eq!(imap.port, 10143);
    assert_eq!(c.team.lead, vec!["lead@example.org", "other@example.org"]);
    assert_eq!(c.sla.response_window, Duration::from_secs(20));
}

#[test]
fn errors_name_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[project]\nsecurity_address = \"x\"\n", "project.security_address"),
        (
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\nmax_message_size=\"huge\"\n",
            "store.max_message_size",
        ),
        (
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[imap]\nhost=\"mail.example.org\"\ntls=\"none\"\nusername=\"u\"\npassword=\"p\"\n",
            "imap.tls",
        ),
        (
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[imap]\nhost=\"h\"\nport=99999\n",
            "imap.port",
        ),
        (
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[sla]\nscan=\"every minute\"\n",
            "sla.scan",
        ),
        (
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[sla]\nresponse_window=\"1h\"\nremind_before=[\"2h\"]\n",
            "sla.remind_before",
        ),
    ];
    for (text, key) in cases {
        let p = write(dir.path(), text);
        let e = load_with_env(&p, BTreeMap::new()).unwrap_err();
        let line = e.to_string();
        assert!(line.contains(key), "{line} should name {key}");
        assert!(line.contains("secdesk.toml"), "{line} should name the file");
        assert!(!line.contains('\n'));
    }
}

#[test]
fn unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), &format!("{MINIMAL}\n[team]\nleed = []\n"));
    let e = load_with_env(&p, BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("leed"), "{e}");
}

#[test]
fn password_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imap.pw"), "s3cret\n").unwrap();
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost=\"localhost\"\ntls=\"none\"\nusername=\"u\"\npassword_file=\"imap.pw\"\n"),
    );
    let mut c = load_with_env(&p, BTreeMap::new()).unwrap();
    assert_eq!(c.imap.as_ref().unwrap().password.expose(), "");
    c.load_secrets().unwrap();
    assert_eq!(c.imap.unwrap().password.expose(), "s3cret");
    // A missing file is an error naming the key, when the secret is needed.
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost=\"localhost\"\ntls=\"none\"\nusername=\"u\"\npassword_file=\"${{CREDENTIALS_DIRECTORY}}/nope\"\n"),
    );
    let mut c = load_with_env(&p, BTreeMap::new()).unwrap();
    let e = c.load_secrets().unwrap_err().to_string();
    assert!(e.starts_with("imap.password_file: cannot read"), "{e}");
    assert_eq!(format!("{:?}", Secret::new("x")), "Secret(***)");
}

#[test]
fn errors_never_echo_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    // A syntax error on the password line: the parser quotes the line.
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost = \"localhost\"\npassword = \"hunter2-s3cret\n"),
    );
    let e = load_with_env(&p, BTreeMap::new()).unwrap_err().to_string();
    assert!(!e.contains("hunter2-s3cret"), "{e}");
    assert!(e.contains("secdesk.toml"), "{e}");
    // A literal string, and an error on the line after the secret.
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\npassword = 'lit-s3cret-value\n"),
    );
    let e = load_with_env(&p, BTreeMap::new()).unwrap_err().to_string();
    assert!(e.contains("TOML parse error"), "{e}");
    assert!(!e.contains("lit-s3cret-value"), "{e}");
    let text = format!("{MINIMAL}\n[imap]\npassword = \"tr0ub4dor&3\n");
    let e = from_toml_str(&text, &p).unwrap_err().to_string();
    assert!(!e.contains("tr0ub4dor"), "{e}");
}

#[test]
fn loopback_hosts() {
    assert!(is_loopback("127.0.0.1"));
    assert!(is_loopback("localhost"));
    assert!(is_loopback("[::1]"));
    assert!(!is_loopback("mail.example.org"));
    assert!(!is_loopback("10.0.0.1"));
}

#[test]
fn packages_and_github() {
    let base = "[project]\nsecurity_address = \"security@example.org\"\n\
                repository_url = \"https://github.com/example/app\"\n\
                [store]\npath = \"c\"\ndata_dir = \"d\"\n";
    let path = Path::new("/etc/secdesk/secdesk.toml");
    let cfg = from_toml_str(
        &format!(
            "{base}[[project.packages]]\nid = \"desktop\"\necosystem = \"none\"\nname = \"App\"\n\
             [[project.packages]]\nid = \"cli\"\necosystem = \"npm\"\nname = \"@example/cli\"\n\
             repository = \"https://github.com/example/cli\"\n\
             [github]\nrepository = \"example/app\"\ntoken_file = \"/run/credentials/github\"\n"
        ),
        path,
    )
    .unwrap();
    let p = &cfg.project.packages;
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].ecosystem, crate::ecosystem::Ecosystem::None);
    assert_eq!(
        p[0].repository.as_deref(),
        Some("https://github.com/example/app")
    );
    assert_eq!(
        p[1].repository.as_deref(),
        Some("https://github.com/example/cli")
    );
    assert_eq!(
        cfg.project.package(Some("cli")).unwrap().name,
        "@example/cli"
    );
    let several = cfg.project.package(None).unwrap_err().to_string();
    assert!(
        several.contains("--package") && several.contains("desktop, cli"),
        "{several}"
    );
    let gh = cfg.github.unwrap();
    assert_eq!(gh.api_url, crate::github::DEFAULT_API_URL);
    assert_eq!(gh.token_path(), &PathBuf::from("/run/credentials/github"));
    // The older single-package keys still make one package, `main`.
    let legacy = from_toml_str(
        &base.replace(
            "[store]",
            "advisory_ecosystem = \"crates.io\"\nadvisory_package = \"app\"\n[store]",
        ),
        path,
    )
    .unwrap();
    assert_eq!(legacy.project.package(None).unwrap().id, "main");
    // Errors name the key.
    for (extra, key) in [
        ("[[project.packages]]\nid = \"a b\"\necosystem = \"npm\"\nname = \"x\"\n", "project.packages[0].id"),
        ("[[project.packages]]\nid = \"a\"\necosystem = \"cobol\"\nname = \"x\"\n", "project.packages[0].ecosystem"),
        ("[[project.packages]]\nid = \"a\"\necosystem = \"npm\"\nname = \"\"\n", "project.packages[0].name"),
        ("[github]\nrepository = \"not a repo\"\ntoken_file = \"t\"\n", "github.repository"),
        ("[github]\nrepository = \"a/b\"\n", "github.token_file"),
        ("[github]\nrepository = \"a/b\"\ntoken_file = \"t\"\napi_url = \"http://example.org\"\n", "github.api_url"),
    ] {
        let e = from_toml_str(&format!("{base}{extra}"), path).unwrap_err();
        assert_eq!(e.key, key, "{e}");
    }
}

#[test]
fn smtp_from_may_carry_a_display_name() {
    let path = Path::new("/etc/secdesk/secdesk.toml");
    let with = |from: &str| {
        from_toml_str(
            &format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\nfrom = '{from}'\n"),
            path,
        )
    };
    let s = with("Example Security <Security@Example.org>")
        .unwrap()
        .smtp
        .unwrap();
    assert_eq!(
        (s.from.as_str(), s.from_name.as_deref()),
        ("security@example.org", Some("Example Security"))
    );
    let s = with("\"Example, Security\" <security@example.org>")
        .unwrap()
        .smtp
        .unwrap();
    assert_eq!(s.from_name.as_deref(), Some("Example, Security"));
    let s = with("security@example.org").unwrap().smtp.unwrap();
    assert_eq!(s.from_name, None);
    assert_eq!(
        with("Example <not an address>").unwrap_err().key,
        "smtp.from"
    );
}

#[test]
fn an_unknown_key_from_the_environment_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost = \"localhost\"\nusername = \"u\"\npassword = \"p\"\n"),
    );
    let mut env = BTreeMap::new();
    env.insert("SECDESK_IMAP__PASWORD".to_string(), "x".to_string());
    let e = load_with_env(&p, env).unwrap_err();
    assert_eq!(
        e.source_name, "environment variable SECDESK_IMAP__PASWORD",
        "{e}"
    );
    // The same typo in the file names the file.
    let p = write(
        dir.path(),
        &format!("{MINIMAL}\n[imap]\nhost = \"localhost\"\nusername = \"u\"\npasword = \"p\"\n"),
    );
    let e = load_with_env(&p, BTreeMap::new()).unwrap_err();
    assert_eq!(e.source_name, p.display().to_string(), "{e}");
}
