//! scripts/install puts everything in place (into a scratch prefix here)
//! and leaves an operator's existing configuration alone on upgrade.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn install_and_upgrade_into_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("usr");
    let etc = dir.path().join("etc");
    let run = || {
        let o = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install"))
            .args([
                "--prefix",
                &prefix.display().to_string(),
                "--binary",
                env!("CARGO_BIN_EXE_secdesk"),
            ])
            .env("SECDESK_ETC", &etc)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&prefix.join("bin/secdesk")), 0o755);
    assert_eq!(mode(&etc.join("secdesk/credentials/imap")), 0o600);
    assert_eq!(mode(&etc.join("secdesk")), 0o750);
    assert!(prefix.join("share/secdesk/templates/ack.hbs").exists());
    let unit = std::fs::read_to_string(etc.join("systemd/system/secdesk.service")).unwrap();
    assert!(unit.contains(&format!("ExecStart={}/bin/secdesk", prefix.display())));
    assert!(
        Command::new("id")
            .arg("secdesk")
            .status()
            .unwrap()
            .success(),
        "user created"
    );
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(etc.join("systemd/system/secdesk.service"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));

    // An upgrade keeps the operator's configuration.
    std::fs::write(etc.join("secdesk/secdesk.toml"), "# mine\n").unwrap();
    run();
    assert_eq!(
        std::fs::read_to_string(etc.join("secdesk/secdesk.toml")).unwrap(),
        "# mine\n"
    );
}
