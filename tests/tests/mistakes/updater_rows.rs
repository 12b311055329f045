//! The table's rows for the device (`updater`): mirror URLs missing their folder, mirrors
//! nothing answers on, a device without a root or trusting another, configs with a mistake.

use e2e_tests::{closed_port, MistakeRow as Row, MistakeWorld as World};

/// The metadata URL given without its `/metadata`, on the command line and in the config.
pub fn metadata_url_rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let device_dir = w.device.tmp.path().to_owned();
    let no_metadata_config = w.config(
        "no-metadata.toml",
        &url,
        &format!("{url}/targets"),
        "channel = \"stable\"",
    );
    vec![
        Row {
            name: "metadata URL without /metadata",
            program: "updater",
            args: w.updater(&[&"--metadata-url", &url, &"refresh"]),
            // `refresh` and `download` exit 1 for any failure (the TUF client protocol's
            // rule); the words say what it was.
            code: 1,
            says: vec![
                format!("{url}/timestamp.json: not found"),
                "is the metadata URL right?".into(),
                "usually ending in /metadata".into(),
                "--metadata-url".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "metadata URL without /metadata, in the config (apply)",
            program: "updater",
            args: vec!["--config".into(), no_metadata_config.into(), "plan".into()],
            code: 3,
            says: vec![
                format!("refresh could not fetch the metadata: timestamp.json: not found on any mirror ({url}/timestamp.json: not found)"),
                "[repository] metadata".into(),
            ],
            unchanged: device_dir.clone(),
        },
    ]
}

/// The targets URL given without its `/targets`, in the config and on the command line.
pub fn targets_url_rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let r = &w.repo;
    let dev = &w.device;
    let app = "releases/2.0.0/armv7/app.bin".to_owned();
    let wrong_targets_config = w.config(
        "wrong-targets.toml",
        &format!("{url}/metadata"),
        &url,
        "channel = \"stable\"",
    );
    vec![
        Row {
            name: "targets URL without /targets",
            program: "updater",
            args: vec!["--config".into(), wrong_targets_config.into(), "plan".into()],
            code: 3,
            says: vec![
                "could not fetch the signed policy (policy.xml) from the targets mirrors: policy.xml: not found on any mirror".into(),
                format!("({url}/"),
                "is the targets URL right?".into(),
                "[repository] targets".into(),
            ],
            // The refresh before it stores the newer metadata: watch the repository.
            unchanged: r.path.clone(),
        },
        Row {
            name: "targets URL without /targets (download)",
            program: "updater",
            args: w.updater(&[
                &"--metadata-url",
                &format!("{url}/metadata"),
                &"--target-base-url",
                &url,
                &"--target-name",
                &app,
                &"--target-dir",
                &dev.target_dir,
                &"download",
            ]),
            code: 1,
            says: vec![
                format!("{app}: not found on any mirror ({url}/releases/2.0.0/armv7/"),
                "--target-base-url".into(),
            ],
            unchanged: dev.target_dir.clone(),
        },
    ]
}

/// A mirror nothing answers on, and a URL no mirror can have.
pub fn unreachable_mirror_rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let device_dir = w.device.tmp.path().to_owned();
    let offline = format!("http://127.0.0.1:{}/metadata", closed_port());
    let offline_config = w.config(
        "offline.toml",
        &offline,
        &format!("{url}/targets"),
        "channel = \"stable\"",
    );
    vec![
        Row {
            name: "offline mirror",
            program: "updater",
            args: vec![
                "--config".into(),
                offline_config.into(),
                "--retries".into(),
                "1".into(),
                "plan".into(),
            ],
            code: 3,
            says: vec![
                format!("refresh could not fetch the metadata: 2.root.json: could not be fetched ({offline}/2.root.json: "),
                "Connection refused".into(),
                "(2 attempts)".into(),
                "no mirror could be reached; nothing was refused".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "unsupported URL scheme",
            program: "updater",
            args: w.updater(&[&"--metadata-url", &"ftp://example.com/metadata", &"refresh"]),
            code: 1,
            says: vec!["ftp://example.com/metadata: unsupported scheme (use http://, https://, file:// or a path)".into()],
            unchanged: device_dir.clone(),
        },
    ]
}

/// A device never given `updater init`, then one trusting a stranger's root.
pub fn blank_device_rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let uninitialised = w.blank_device();
    vec![
        Row {
            name: "device without init",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "--metadata-url".into(),
                format!("{url}/metadata").into(),
                "refresh".into(),
            ],
            code: 1,
            says: vec![format!(
                "{} holds no trusted root.json: run `updater init ROOT` first",
                uninitialised.display()
            )],
            unchanged: uninitialised.clone(),
        },
        Row {
            name: "device trusting another repository's root (wrong keys)",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "--metadata-url".into(),
                format!("{url}/metadata").into(),
                "refresh".into(),
            ],
            // Set up below: `uninitialised` trusts a stranger's root by then.
            code: 1,
            says: vec!["refresh refused: timestamp: 0 of 1 required signatures are valid".into()],
            unchanged: uninitialised.clone(),
        },
    ]
}

/// Metadata past its expiry, a config with a typo, a config file that is not there.
pub fn device_config_rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let r = &w.repo;
    let device_dir = w.device.tmp.path().to_owned();
    let typo_config = w.config(
        "typo.toml",
        &format!("{url}/metadata"),
        &format!("{url}/targets"),
        "chanel = \"stable\"",
    );
    vec![
        Row {
            name: "expired metadata",
            program: "updater",
            args: vec![
                "--config".into(),
                w.config(
                    "ok.toml",
                    &format!("{url}/metadata"),
                    &format!("{url}/targets"),
                    "channel = \"stable\"",
                )
                .into(),
                "plan".into(),
                "--now".into(),
                "2099-01-01T00:00:00Z".into(),
            ],
            code: 1,
            says: vec![
                "refresh refused: root expired at ".into(),
                "(checked at 2099-01-01T00:00:00Z)".into(),
                "the repository must be re-signed".into(),
                "set this machine's clock".into(),
            ],
            unchanged: r.path.clone(),
        },
        Row {
            name: "config file typo (unknown key)",
            program: "updater",
            args: vec!["--config".into(), typo_config.clone().into(), "plan".into()],
            code: 1,
            says: vec![
                typo_config.display().to_string(),
                "line 4".into(),
                "unknown field `chanel`, expected one of `id`, `platform`, `channel`".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "missing config file",
            program: "updater",
            args: vec![
                "--config".into(),
                w.scratch.path().join("updater.tom").into(),
                "plan".into(),
            ],
            code: 1,
            says: vec![format!(
                "the device's config file {} does not exist: give --config the device's configuration file",
                w.scratch.path().join("updater.tom").display()
            )],
            unchanged: device_dir.clone(),
        },
    ]
}
