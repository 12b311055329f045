//! Writes a TUF repository with `tough`'s own editor (`tough::editor::RepositoryEditor`), with
//! no code of this project, for the committed corpus `tests/data/tough/`.
//!
//! usage: `cargo run -p e2e-tests --example write_tough_corpus -- OUT`
//!
//! Writes OUT/initial_root.json (root version 1, what a device ships with) and the served
//! repository in OUT/metadata and OUT/targets, laid out as `tough` lays them out:
//!   - consistent snapshots: `1.root.json`, `N.snapshot.json`, `N.targets.json`,
//!     `N.<role>.json`, and targets stored as `<sha256>.<whole name>` (for a nested name the
//!     hash goes before the first folder, not before the basename as the specification says);
//!   - root and snapshot signed with ed25519, timestamp with ECDSA P-256, targets with
//!     RSA-PSS (tough writes RSA and ECDSA public keys as SPKI PEM);
//!   - targets lists `hello.txt`, `docs/guide.txt` and an empty `empty.bin`, and delegates
//!     `app-*` and `releases/*` to the role "release" (ed25519, terminating), which lists
//!     `app-1.0.bin` and `releases/1.0/app.bin` (tough's `*` crosses `/`; python-tuf's and the
//!     specification's does not);
//!   - everything expires in 2099, so the committed corpus stays valid.
//!
//! Before printing, tough's own client loads the result and reads every target back.
//!
//! The private keys are generated here and live only in a temporary folder: the corpus holds
//! public keys only. Prints one JSON object: target name -> hex SHA-256 of its content (save it
//! as `tests/data/tough.targets.json`).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::Engine;
use tough::editor::signed::{PathExists, SignedRole};
use tough::editor::RepositoryEditor;
use tough::key_source::{KeySource, LocalKeySource};
use tough::schema::{KeyHolder, PathPattern, PathSet, RoleKeys, RoleType, Root};
use tough::{IntoVec, TargetName};

/// Target name -> content, and whether the delegated role "release" lists it (else targets).
const TARGETS: &[(&str, &[u8], bool)] = &[
    ("hello.txt", b"hello from tough\n", false),
    (
        "docs/guide.txt",
        b"a nested target, listed by the top-level targets role\n",
        false,
    ),
    ("empty.bin", b"", false),
    (
        "app-1.0.bin",
        b"\x7fELF app 1.0, listed by the delegated role\n",
        true,
    ),
    (
        "releases/1.0/app.bin",
        b"\x7fELF release 1.0, listed by the delegated role\n",
        true,
    ),
];

/// What targets delegates to "release".
const DELEGATED_PATHS: &[&str] = &["app-*", "releases/*"];

fn expires() -> jiff::Timestamp {
    "2099-01-01T00:00:00Z".parse().unwrap()
}

fn one() -> NonZeroU64 {
    NonZeroU64::new(1).unwrap()
}

/// A PKCS#8 private key saved in `dir` under `name`, as `LocalKeySource` reads it.
fn key_file(dir: &Path, name: &str, bytes: &[u8]) -> Box<dyn KeySource> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Box::new(LocalKeySource { path })
}

/// PEM armour, which `tough` needs for RSA private keys (it reads ed25519 and ECDSA as DER).
fn pem(tag: &str, der: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {tag}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {tag}-----\n"));
    out.into_bytes()
}

async fn tuf_key(source: &dyn KeySource) -> tough::schema::key::Key {
    source.as_sign().await.unwrap().tuf_key()
}

/// The private keys, one per role, saved in a temporary folder.
struct Keys {
    root: Box<dyn KeySource>,
    snapshot: Box<dyn KeySource>,
    /// RSA-PSS.
    targets: Box<dyn KeySource>,
    /// ECDSA P-256.
    timestamp: Box<dyn KeySource>,
    /// The delegated role "release".
    release: Box<dyn KeySource>,
}

impl Keys {
    /// Fresh keys saved in `dir`; checks that each parses as the type intended.
    async fn generate(dir: &Path, rng: &SystemRandom) -> Self {
        let ed25519 = || Ed25519KeyPair::generate_pkcs8(rng).unwrap();
        let ecdsa = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng).unwrap();
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&rsa).unwrap();
        let keys = Keys {
            root: key_file(dir, "root", ed25519().as_ref()),
            snapshot: key_file(dir, "snapshot", ed25519().as_ref()),
            release: key_file(dir, "release", ed25519().as_ref()),
            timestamp: key_file(dir, "timestamp", ecdsa.as_ref()),
            targets: key_file(dir, "targets.pem", &pem("PRIVATE KEY", rsa_der.as_ref())),
        };
        // Each key parses as the type intended (tough tries ed25519, then ECDSA, then RSA).
        for (source, kind) in [(&keys.timestamp, "ecdsa"), (&keys.targets, "rsa")] {
            let key = serde_json::to_value(tuf_key(source.as_ref()).await).unwrap();
            assert_eq!(key["keytype"], kind);
        }
        keys
    }

    /// Every key, as `RepositoryEditor::sign` takes them.
    fn all(self) -> [Box<dyn KeySource>; 5] {
        [
            self.root,
            self.snapshot,
            self.targets,
            self.timestamp,
            self.release,
        ]
    }
}

/// A target file as a publisher has it before publishing.
struct StagedTarget {
    name: TargetName,
    path: PathBuf,
    /// Listed by the delegated role "release" (else by targets).
    delegated: bool,
}

/// OUT from the command line; it must not exist yet.
fn out_folder() -> PathBuf {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: write_tough_corpus OUT"),
    );
    assert!(
        !out.exists(),
        "{} exists: choose a new folder",
        out.display()
    );
    out
}

/// Signs root version 1 and writes it as `metadata/1.root.json` and `initial_root.json`.
/// tough has no root builder of its own (tuftool's `root` commands wrap these types).
async fn write_root(keys: &Keys, out: &Path, metadata: &Path, rng: &SystemRandom) {
    let mut ids = HashMap::new();
    let mut roles = HashMap::new();
    for (role, source) in [
        (RoleType::Root, &keys.root),
        (RoleType::Snapshot, &keys.snapshot),
        (RoleType::Targets, &keys.targets),
        (RoleType::Timestamp, &keys.timestamp),
    ] {
        let key = tuf_key(source.as_ref()).await;
        let id = key.key_id().unwrap();
        ids.insert(id.clone(), key);
        roles.insert(
            role,
            RoleKeys {
                keyids: vec![id],
                threshold: one(),
                _extra: HashMap::new(),
            },
        );
    }
    let root = Root {
        spec_version: "1.0.0".to_owned(),
        consistent_snapshot: true,
        version: one(),
        expires: expires(),
        keys: ids,
        roles,
        _extra: HashMap::new(),
    };
    let holder = KeyHolder::Root(root.clone());
    let signed_root = SignedRole::new(root, &holder, std::slice::from_ref(&keys.root), rng)
        .await
        .unwrap();
    signed_root.write(metadata, true).await.unwrap();
    std::fs::write(out.join("initial_root.json"), signed_root.buffer()).unwrap();
}

/// Writes every target of `TARGETS` into `staged`; returns them and name -> hex SHA-256.
fn stage_targets(staged: &Path) -> (Vec<StagedTarget>, BTreeMap<String, String>) {
    let mut expected = BTreeMap::new();
    let mut files = Vec::new();
    std::fs::create_dir_all(staged).unwrap();
    for (i, (name, content, delegated)) in TARGETS.iter().enumerate() {
        let path = staged.join(i.to_string());
        std::fs::write(&path, content).unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, content);
        expected.insert(name.to_string(), hex::encode(digest.as_ref()));
        files.push(StagedTarget {
            name: TargetName::new(*name).unwrap(),
            path,
            delegated: *delegated,
        });
    }
    (files, expected)
}

/// Adds to the role being edited every staged target whose `delegated` is `delegated`.
async fn add_targets(editor: &mut RepositoryEditor, files: &[StagedTarget], delegated: bool) {
    for file in files.iter().filter(|f| f.delegated == delegated) {
        let (_, target) = RepositoryEditor::build_target(&file.path).await.unwrap();
        editor.add_target(file.name.clone(), target).unwrap();
    }
}

/// An editor over root 1 whose targets list the top-level files and delegate
/// `DELEGATED_PATHS` to "release", which lists the delegated files; both roles signed.
async fn edit_targets(metadata: &Path, keys: &Keys, files: &[StagedTarget]) -> RepositoryEditor {
    let mut editor = RepositoryEditor::new(metadata.join("1.root.json"))
        .await
        .unwrap();
    editor
        .targets_version(one())
        .unwrap()
        .targets_expires(expires())
        .unwrap()
        .snapshot_version(one())
        .snapshot_expires(expires())
        .timestamp_version(one())
        .timestamp_expires(expires());
    add_targets(&mut editor, files, false).await;
    let paths = DELEGATED_PATHS
        .iter()
        .map(|p| PathPattern::new(*p).unwrap())
        .collect();
    editor
        .delegate_role(
            "release",
            std::slice::from_ref(&keys.release),
            PathSet::Paths(paths),
            true,
            one(),
            expires(),
            one(),
        )
        .await
        .unwrap();
    editor
        .sign_targets_editor(std::slice::from_ref(&keys.targets))
        .await
        .unwrap();
    // The editor now edits "release", and forgets its version and expiry until told again.
    editor
        .change_delegated_targets("release")
        .unwrap()
        .targets_version(one())
        .unwrap()
        .targets_expires(expires())
        .unwrap();
    add_targets(&mut editor, files, true).await;
    editor
        .sign_targets_editor(std::slice::from_ref(&keys.release))
        .await
        .unwrap();
    editor
}

/// Signs snapshot and timestamp, writes all metadata, and copies the targets into place.
async fn write_repository(
    editor: RepositoryEditor,
    keys: Keys,
    files: &[StagedTarget],
    metadata: &Path,
    targets_dir: &Path,
) {
    let signed = editor.sign(&keys.all()).await.unwrap();
    signed.write(metadata).await.unwrap();
    for file in files {
        signed
            .copy_target(&file.path, targets_dir, PathExists::Fail, Some(&file.name))
            .await
            .unwrap();
    }
}

/// tough's own client reads every target back, the delegated ones included: what is
/// committed is a repository tough stands behind.
async fn self_check(out: &Path, expected: &BTreeMap<String, String>) {
    let base = url::Url::from_directory_path(std::fs::canonicalize(out).unwrap()).unwrap();
    let loaded = tough::RepositoryLoader::new(
        &std::fs::read(out.join("initial_root.json")).unwrap(),
        base.join("metadata/").unwrap(),
        base.join("targets/").unwrap(),
    )
    .load()
    .await
    .unwrap();
    for (name, sha256) in expected {
        let name = TargetName::new(name.as_str()).unwrap();
        let bytes = loaded
            .read_target(&name)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("tough does not find {}", name.raw()))
            .into_vec()
            .await
            .unwrap();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        assert_eq!(&hex::encode(digest.as_ref()), sha256, "{}", name.raw());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = out_folder();
    let metadata = out.join("metadata");
    let targets_dir = out.join("targets");
    std::fs::create_dir_all(&metadata).unwrap();
    std::fs::create_dir_all(&targets_dir).unwrap();
    let work = tempfile::tempdir().unwrap();
    let rng = SystemRandom::new();

    let keys = Keys::generate(work.path(), &rng).await;
    write_root(&keys, &out, &metadata, &rng).await;
    let (files, expected) = stage_targets(&work.path().join("staged"));
    let editor = edit_targets(&metadata, &keys, &files).await;
    write_repository(editor, keys, &files, &metadata, &targets_dir).await;
    self_check(&out, &expected).await;
    println!("{}", serde_json::to_string(&expected).unwrap());
}
