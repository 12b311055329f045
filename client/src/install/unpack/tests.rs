//! The confined extractor under attack: climbing out through links, hard links, absolute
//! and `..` names, and special files, each refused with its reason.

use super::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Instant;

use tar::EntryType;

fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    builder.into_inner().unwrap()
}

fn header(kind: EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

/// Writes a raw path into the header (the builder itself refuses `..` and absolute paths).
fn raw_path(h: &mut tar::Header, path: &str) {
    let name = &mut h.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
}

fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut h = header(EntryType::Directory, 0);
    h.set_mode(0o755);
    b.append_data(&mut h, path, &[][..]).unwrap();
}

fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut h = header(EntryType::Regular, bytes.len() as u64);
    b.append_data(&mut h, path, bytes).unwrap();
}

fn symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = header(EntryType::Symlink, 0);
    b.append_link(&mut h, path, target).unwrap();
}

fn hard_link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = header(EntryType::Link, 0);
    b.append_link(&mut h, path, target).unwrap();
}

/// Every file, folder and link under `dir`, with mode, link count and content; links
/// are read, never followed.
fn tree(dir: &Path) -> BTreeMap<String, (u32, u64, Vec<u8>)> {
    let mut state = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let content = if meta.is_dir() {
                stack.push(path.clone());
                Vec::new()
            } else if meta.file_type().is_symlink() {
                fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                fs::read(&path).unwrap()
            };
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            state.insert(rel, (meta.mode(), meta.nlink(), content));
        }
    }
    state
}

/// `TMP/root/sandbox/dest`, with a file `victim.txt` beside `dest` and one in `root`
/// and `TMP`: everywhere an escape from `dest` would land within three levels.
struct Sandbox {
    tmp: tempfile::TempDir,
    dest: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("root/sandbox/dest");
        fs::create_dir_all(&dest).unwrap();
        for at in ["", "root", "root/sandbox"] {
            fs::write(tmp.path().join(at).join("victim.txt"), b"victim\n").unwrap();
        }
        Sandbox { tmp, dest }
    }

    /// Runs `unpack` expecting a refusal; then removes `dest` as the caller does and
    /// asserts that the whole tree around it is as it was.
    fn refuse(&self, run: impl FnOnce(&Path) -> Result<Unpacked, UnpackError>) -> UnpackError {
        let before = tree(self.tmp.path());
        let err = run(&self.dest).expect_err("the archive must be refused");
        // Before the caller cleans up: no hard link in `dest` reaches a file outside.
        for victim in ["victim.txt", "root/victim.txt", "root/sandbox/victim.txt"] {
            let meta = fs::metadata(self.tmp.path().join(victim)).unwrap();
            assert_eq!(meta.nlink(), 1, "{victim} was linked into dest: {err}");
        }
        fs::remove_dir_all(&self.dest).unwrap();
        fs::create_dir(&self.dest).unwrap();
        assert_eq!(before, tree(self.tmp.path()), "changed outside dest: {err}");
        err
    }

    fn refuse_tar(&self, data: &[u8]) -> UnpackError {
        self.refuse(|dest| unpack(data, dest, UnpackLimits::default()))
    }
}

/// Asserts that `err` refuses `entry` for exactly `reason`.
fn assert_refused(err: UnpackError, entry: &str, reason: Refusal) {
    match err {
        UnpackError::Refused {
            entry: got_entry,
            reason: got_reason,
        } => {
            assert_eq!((got_entry.as_str(), got_reason), (entry, reason));
        }
        other => panic!("expected {entry:?} refused for {reason:?}, got {other:?}"),
    }
}

#[test]
fn a_chain_of_relative_links_cannot_climb_out() {
    // Each link looks inside on its own; followed in turn they reach `sandbox/`.
    let data = tar_with(|b| {
        dir(b, "p/");
        symlink(b, "p/q", "..");
        symlink(b, "p/q/u1", "..");
        file(b, "p/q/u1/escaped.txt", b"out\n");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "p/q/u1", Refusal::ThroughSymlink("p/q".into()));
}

#[test]
fn a_longer_chain_of_relative_links_cannot_climb_out() {
    // `p/q` is the folder, `u1` beside it climbs to `sandbox/`, `u2` there to `root/`.
    let data = tar_with(|b| {
        dir(b, "p/");
        symlink(b, "p/q", "..");
        symlink(b, "p/q/u1", "..");
        symlink(b, "p/q/u1/u2", "..");
        file(b, "p/q/u1/u2/escaped.txt", b"out\n");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "p/q/u1", Refusal::ThroughSymlink("p/q".into()));
    // A member under the first link alone is refused the same way.
    let data = tar_with(|b| {
        dir(b, "p/");
        symlink(b, "p/q", "..");
        file(b, "p/q/u1/u2/u3/inside.txt", b"in\n");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(
        err,
        "p/q/u1/u2/u3/inside.txt",
        Refusal::ThroughSymlink("p/q".into()),
    );
}

#[test]
fn a_link_through_a_link_is_refused_once_the_kernel_resolves_it() {
    // `s -> .` then `a -> s/..`: lexically inside, really the folder's parent.
    let data = tar_with(|b| {
        symlink(b, "s", ".");
        symlink(b, "a", "s/..");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "a", Refusal::LinkLeaves("s/..".into()));
}

#[test]
fn a_file_under_a_link_through_a_link_is_refused() {
    let data = tar_with(|b| {
        symlink(b, "s", ".");
        symlink(b, "a", "s/..");
        file(b, "a/escaped.txt", b"out\n");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "a/escaped.txt", Refusal::ThroughSymlink("a".into()));
}

#[test]
fn a_hard_link_through_a_link_is_refused() {
    // `a` leads to `sandbox/`, where `victim.txt` lives: `h` would be that file.
    let data = tar_with(|b| {
        symlink(b, "s", ".");
        symlink(b, "a", "s/..");
        hard_link(b, "h", "a/victim.txt");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(
        err,
        "h",
        Refusal::HardLinkTarget(Box::new(Refusal::ThroughSymlink("a".into()))),
    );
}

#[test]
fn a_hard_link_to_a_link_that_points_out_is_refused() {
    let data = tar_with(|b| {
        symlink(b, "s", ".");
        symlink(b, "out", "s/../victim.txt");
        hard_link(b, "h", "out");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "h", Refusal::HardLinkNotFile("out".into()));
}

#[test]
fn absolute_symlinks_are_refused() {
    let sandbox = Sandbox::new();
    let outside = sandbox.tmp.path().join("root/sandbox");
    let data = tar_with(|b| {
        symlink(b, "out", outside.to_str().unwrap());
        file(b, "out/escaped.txt", b"out\n");
    });
    let err = sandbox.refuse_tar(&data);
    assert_refused(
        err,
        "out",
        Refusal::LinkLeaves(outside.display().to_string()),
    );
}

#[test]
fn members_with_dotdot_are_refused() {
    for path in ["../escaped.txt", "a/../../escaped.txt", "./../../x"] {
        let data = tar_with(|b| {
            let mut h = header(EntryType::Regular, 1);
            raw_path(&mut h, path);
            b.append(&h, &b"x"[..]).unwrap();
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, path, Refusal::ParentDir);
    }
}

#[test]
fn absolute_members_are_refused() {
    let sandbox = Sandbox::new();
    let path = sandbox.tmp.path().join("root/sandbox/escaped.txt");
    let path = path.to_str().unwrap().to_owned();
    let data = tar_with(|b| {
        let mut h = header(EntryType::Regular, 1);
        raw_path(&mut h, &path);
        b.append(&h, &b"x"[..]).unwrap();
    });
    let err = sandbox.refuse_tar(&data);
    assert_refused(err, &path, Refusal::Absolute);
}

#[test]
fn device_nodes_and_fifos_are_refused() {
    let cases = [
        (EntryType::Char, Refusal::Device),
        (EntryType::Block, Refusal::Device),
        (EntryType::Fifo, Refusal::Fifo),
    ];
    for (kind, reason) in cases {
        let data = tar_with(|b| {
            let mut h = header(kind, 0);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
            b.append_data(&mut h, "dev/node", &[][..]).unwrap();
        });
        let sandbox = Sandbox::new();
        let err = sandbox.refuse_tar(&data);
        assert_refused(err, "dev/node", reason);
    }
}

/// `count` tar headers for `./`, made as they are read: 512 MB for a million, never in
/// memory at once.
struct RepeatedHeaders {
    block: [u8; 512],
    left: u64,
    at: usize,
}

impl Read for RepeatedHeaders {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0); // tar treats the end of input as the end of the archive
        }
        let n = buf.len().min(512 - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        if self.at == 512 {
            self.at = 0;
            self.left -= 1;
        }
        Ok(n)
    }
}

mod writes;
