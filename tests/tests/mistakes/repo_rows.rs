//! The table's rows for files and the admin tool (`repo`): a root file that is not JSON,
//! policy files with a mistake, `repo init`, `repo add` and `repo export` given a wrong
//! folder, key or value.

use e2e_tests::{
    example_key, fixture_release, init_args, policy_for, repo_args, repo_init_args,
    MistakeRow as Row, MistakeWorld as World, POLICY_HEAD, POLICY_TAIL,
};

/// A root file that is not JSON, given to the device and to `repo verify`.
pub fn root_file_rows(w: &World) -> Vec<Row> {
    let uninitialised = w.blank_device();
    let not_json = w.file("root.json", "this is not JSON\n");
    let repo_path = w.repo.path.clone();
    vec![
        Row {
            name: "root file that is not JSON (device)",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "init".into(),
                not_json.clone().into(),
            ],
            code: 1,
            says: vec![format!(
                "{} was not trusted: root.json is not valid metadata",
                not_json.display()
            )],
            unchanged: uninitialised.clone(),
        },
        Row {
            name: "root file that is not JSON (repo verify --root)",
            program: "repo",
            args: repo_args(&[&"verify", &repo_path, &"--root", &not_json]),
            code: 1,
            says: vec![
                format!(
                    "--root {} is not a root signed by its own keys",
                    not_json.display()
                ),
                "public/metadata/1.root.json".into(),
            ],
            unchanged: repo_path.clone(),
        },
    ]
}

/// Policy files with a typo, a bad date or a release the index does not hold.
pub fn policy_rows(w: &World) -> Vec<Row> {
    let repo_path = w.repo.path.clone();
    let typo_element = w.file(
        "element.xml",
        &format!("{POLICY_HEAD}    <taget release=\"2.0.0\"/>\n{POLICY_TAIL}"),
    );
    let typo_attribute = w.file(
        "attribute.xml",
        &format!(
            "{POLICY_HEAD}    <target relase=\"2.0.0\"><wave start=\"2026-01-01T00:00:00Z\" percent=\"100\"/></target>\n{POLICY_TAIL}"
        ),
    );
    let bad_date = w.file(
        "date.xml",
        &format!(
            "{POLICY_HEAD}    <target release=\"2.0.0\"><wave start=\"2026-13-01\" percent=\"100\"/></target>\n{POLICY_TAIL}"
        ),
    );
    let unknown_release = w.file("unknown.xml", &policy_for("9.9.9", ""));
    vec![
        Row {
            name: "policy typo: unknown element",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &typo_element]),
            code: 1,
            says: vec![format!(
                "{} line 3: unknown element <taget>: inside <channel> the elements are <target>, <via>, <revoked>, <halt>",
                typo_element.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy typo: unknown attribute (policy set)",
            program: "repo",
            args: repo_args(&[&"policy", &"set", &repo_path, &typo_attribute]),
            code: 1,
            says: vec![format!(
                "{} line 3: <target> has no attribute \"relase\": its attributes are \"release\", \"downgrade\", \"restart\"",
                typo_attribute.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy typo: bad date",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &bad_date]),
            code: 1,
            says: vec![format!(
                "{} line 3: <wave start>: \"2026-13-01\" is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
                bad_date.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy naming a release not in the index",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &unknown_release]),
            code: 1,
            says: vec![
                "policy names releases the index does not hold: 9.9.9 (channel \"stable\")".into(),
                "stage each with `repo add REPO DIR --release VERSION --platform PLATFORM` first".into(),
            ],
            unchanged: repo_path.clone(),
        },
    ]
}

/// `repo init` on a used folder, signed by the wrong key, or short of the root threshold.
pub fn repo_init_rows(w: &World) -> Vec<Row> {
    let nonempty = w.scratch.path().join("nonempty");
    std::fs::create_dir(&nonempty).unwrap();
    std::fs::write(nonempty.join("notes.txt"), "mine").unwrap();
    let mut init_nonempty = init_args(&nonempty, &[]);
    init_nonempty.remove(0);
    let fresh = w.scratch.path().join("fresh");
    let mut init_wrong_signer = init_args(&fresh, &[]);
    init_wrong_signer.remove(0);
    init_wrong_signer.pop();
    init_wrong_signer.push(example_key("targets.pem").display().to_string());
    let threshold_repo = w.repo.tmp.path().join("threshold");
    let mut two_of_two = init_args(&threshold_repo, &[]);
    two_of_two.remove(0);
    // Root 2-of-2 (the root key and the targets key as root keys), signed by one: staged.
    two_of_two.extend([
        "--key".into(),
        format!("root={}", example_key("targets.pub").display()),
        "--threshold".into(),
        "root=2".into(),
    ]);
    vec![
        Row {
            name: "repo init on a non-empty folder",
            program: "repo",
            args: repo_init_args(&init_nonempty),
            code: 2,
            says: vec![format!(
                "{} already exists and is not empty: `repo init` makes a new repository; give a new or empty folder",
                nonempty.display()
            )],
            unchanged: nonempty.clone(),
        },
        Row {
            name: "repo init signed with a key that is not a root key",
            program: "repo",
            args: repo_init_args(&init_wrong_signer),
            code: 2,
            says: vec![format!(
                "--sign {} (a01a8432) is not one of the root keys given with --key root=",
                example_key("targets.pem").display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
        Row {
            name: "repo init without the root threshold",
            program: "repo",
            args: repo_init_args(&two_of_two),
            code: 4,
            says: vec![format!(
                "not finished: root version 1 is staged and needs 1 more signature(s) by its root keys: `repo sign {} --key ROOT_KEY`",
                threshold_repo.display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
    ]
}

/// `repo add` and `repo export` given a bad label, a missing folder or a bare number.
pub fn repo_command_rows(w: &World) -> Vec<Row> {
    let repo_path = w.repo.path.clone();
    let release_dir = fixture_release("2.0.0", "armv7");
    let missing_repo = w.scratch.path().join("no-such-repo");
    vec![
        Row {
            name: "platform label with a slash",
            program: "repo",
            args: repo_args(&[
                &"add",
                &repo_path,
                &release_dir,
                &"--release",
                &"3.0.0",
                &"--platform",
                &"arm/v7",
            ]),
            code: 2,
            says: vec![
                "platform \"arm/v7\" must be 1-128 characters of letters, digits and . _ + - ~"
                    .into(),
            ],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "missing repository folder",
            program: "repo",
            args: repo_args(&[
                &"add",
                &missing_repo,
                &release_dir,
                &"--release",
                &"3.0.0",
                &"--platform",
                &"armv7",
            ]),
            code: 2,
            says: vec![format!(
                "{} is not a repository made by `repo init`",
                missing_repo.display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
        Row {
            name: "--valid-for without a unit",
            program: "repo",
            args: repo_args(&[
                &"export",
                &repo_path,
                &"--out",
                &w.scratch.path().join("site.tar.gz"),
                &"--valid-for",
                &"90",
                &"--key",
                &example_key("snapshot.pem"),
                &"--key",
                &example_key("timestamp.pem"),
            ]),
            code: 2,
            says: vec!["\"90\" is not a period such as 90d, 12h, 2w, 30m or 3600s".into()],
            unchanged: repo_path.clone(),
        },
    ]
}
