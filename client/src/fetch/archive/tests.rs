use super::*;

/// One test member: name, kind, and data or link target.
type TestMember<'a> = (&'a str, tar::EntryType, &'a [u8]);

/// A gzip-compressed tar of `members` in `dir`.
fn archive(dir: &Path, members: &[TestMember<'_>]) -> PathBuf {
    let path = dir.join("a.tar.gz");
    let file = File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, kind, data) in members {
        // Raw header fields: the builder's path checks would stop the hostile names
        // these tests are about.
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        let body: &[u8] = if *kind == tar::EntryType::Regular {
            data
        } else {
            gnu.linkname[..data.len()].copy_from_slice(data);
            b""
        };
        header.set_size(body.len() as u64);
        header.set_cksum();
        tar.append(&header, body).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    path
}

fn read_all(mirror: &ArchiveMirror, path: &str) -> Vec<u8> {
    mirror.open(path).unwrap().read_limited(1 << 20).unwrap()
}

#[test]
fn members_and_hard_links_are_served_without_unpacking() {
    let dir = tempfile::tempdir().unwrap();
    let path = archive(
        dir.path(),
        &[
            ("./metadata/", tar::EntryType::Directory, b""),
            ("./metadata/a.json", tar::EntryType::Regular, b"alpha"),
            ("targets/x.bin", tar::EntryType::Regular, b"0123456789"),
            ("targets/y.bin", tar::EntryType::Link, b"./targets/x.bin"),
        ],
    );
    let metadata = ArchiveMirror::open(&path, Path::new("metadata")).unwrap();
    let targets = ArchiveMirror::open(&path, Path::new("targets")).unwrap();
    assert!(Arc::ptr_eq(&metadata.index, &targets.index));
    assert_eq!(read_all(&metadata, "a.json"), b"alpha");
    assert_eq!(read_all(&targets, "y.bin"), b"0123456789");
    let body = targets.open_at("x.bin", 4).unwrap();
    assert_eq!(body.start, 4);
    assert_eq!(body.read_limited(100).unwrap(), b"456789");
    for missing in ["../metadata/a.json", "%2E%2E/x", "x", "/targets/x.bin"] {
        assert_eq!(targets.open(missing).err(), Some(FetchError::NotFound));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn hostile_members_refuse_the_archive() {
    use tar::EntryType::{Link, Regular, Symlink};
    let cases: &[(&[TestMember<'_>], MemberFault)] = &[
        (&[("../escape.txt", Regular, b"x")], MemberFault::ParentDir),
        (&[("/tmp/abs.txt", Regular, b"x")], MemberFault::Absolute),
        (
            &[("p/q", Symlink, b"..")],
            MemberFault::Kind("symbolic links"),
        ),
        (
            &[("a", Regular, b"x"), ("./a", Regular, b"y")],
            MemberFault::Duplicate,
        ),
        (
            &[("h", Link, b"/etc/passwd")],
            MemberFault::LinkTarget("/etc/passwd".into()),
        ),
        (&[("a//b", Regular, b"x")], MemberFault::EmptyComponent),
    ];
    for (members, fault) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = archive(dir.path(), members);
        match index(&path) {
            Err(ArchiveError::Member { fault: f, .. }) => assert_eq!(&f, fault),
            other => panic!("{members:?}: {other:?}"),
        }
    }
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.tar.gz");
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, rustix::fs::Mode::from(0o600)).unwrap();
    assert!(matches!(
        ArchiveMirror::open(&path, Path::new("metadata")),
        Err(ArchiveError::NotRegular { kind: "a FIFO", .. })
    ));
}
