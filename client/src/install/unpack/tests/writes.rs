//! What archives within bounds write, and the bounds themselves: entry and byte limits, the
//! gzip ratio, never replacing or writing through what exists, and dropped special bits.

use super::*;

#[test]
fn a_million_empty_entries_are_refused_quickly() {
    let mut h = header(EntryType::Directory, 0);
    h.set_path("./").unwrap();
    h.set_cksum();
    let headers = RepeatedHeaders {
        block: *h.as_bytes(),
        left: 1_000_000,
        at: 0,
    };
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let err = sandbox.refuse(|dest| unpack(headers, dest, UnpackLimits::default()));
    eprintln!("1,000,000 empty entries refused in {:?}", started.elapsed());
    assert!(matches!(err, UnpackError::TooManyEntries(100_000)), "{err}");
}

/// A valid gzip of a tar holding one file of `chunks` MiB less 1 KiB of zeros, built
/// without compressing them: a raw deflate stream of 1 MiB of zeros, made by a fresh
/// compressor and ended by a sync flush, is self-contained and byte-aligned, so it can
/// be repeated. The CRC is combined, not computed over the zeros.
fn gzip_bomb(chunks: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    const CHUNK: usize = 1 << 20;
    let deflate = |data: &[u8], flush| {
        let mut c = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, flush).unwrap();
        assert_eq!(c.total_in(), data.len() as u64);
        out
    };
    let zeros_after_header = chunks * CHUNK as u64;
    let mut h = header(EntryType::Regular, zeros_after_header - 1024);
    h.set_path("zeros").unwrap();
    h.set_cksum();
    let zeros = vec![0u8; CHUNK];
    let segment = deflate(&zeros, FlushCompress::Sync);
    let mut crc = crc32fast::Hasher::new();
    crc.update(h.as_bytes());
    let mut zeros_crc = crc32fast::Hasher::new();
    zeros_crc.update(&zeros);

    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend(deflate(h.as_bytes(), FlushCompress::Sync));
    for _ in 0..chunks {
        gz.extend_from_slice(&segment);
        crc.combine(&zeros_crc);
    }
    gz.extend(deflate(&[], FlushCompress::Finish));
    gz.extend(crc.finalize().to_le_bytes());
    gz.extend(((512 + zeros_after_header) as u32).to_le_bytes());
    gz
}

#[test]
fn a_gzip_bomb_is_refused_by_its_ratio() {
    let tmp = tempfile::tempdir().unwrap();
    // The construction is a valid archive: a small one unpacks, CRC checked.
    let small = tmp.path().join("small.tar.gz");
    fs::write(&small, gzip_bomb(3)).unwrap();
    let dest = tmp.path().join("small");
    fs::create_dir(&dest).unwrap();
    let done = unpack_file(&small, "small.tar.gz", &dest, UnpackLimits::default()).unwrap();
    assert_eq!(done.bytes, 3 * (1 << 20) - 1024);
    assert_eq!(fs::metadata(dest.join("zeros")).unwrap().len(), done.bytes);

    let bomb = tmp.path().join("bomb.tar.gz");
    let data = gzip_bomb(4000);
    eprintln!("gzip bomb: {} bytes, inflates to 4000 MiB", data.len());
    fs::write(&bomb, data).unwrap();
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let err =
        sandbox.refuse(|dest| unpack_file(&bomb, "bomb.tar.gz", dest, UnpackLimits::default()));
    eprintln!("gzip bomb refused in {:?}", started.elapsed());
    match err {
        UnpackError::Bomb {
            inflated,
            read,
            ratio,
        } => {
            assert_eq!(ratio, 100);
            assert!(inflated > 64 << 20 && inflated > 100 * read, "{err}");
            assert!(inflated < 128 << 20, "refused late: {err}");
        }
        other => panic!("expected a bomb refusal, got {other:?}"),
    }
}

#[test]
fn a_member_cannot_replace_a_folder_with_a_link() {
    let data = tar_with(|b| {
        dir(b, "d/");
        dir(b, "e/");
        symlink(b, "d", "e");
        file(b, "d/x", b"x");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "d", Refusal::Replaces(Existing::Folder));
    // The shape with an absolute target is refused for the target first.
    let data = tar_with(|b| {
        dir(b, "d/");
        symlink(b, "d", "/tmp");
        file(b, "d/x", b"x");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "d", Refusal::LinkLeaves("/tmp".into()));
}

#[test]
fn a_file_is_never_written_over_an_earlier_link() {
    // `f` leads to `sandbox/victim.txt`; writing `f` would write through it.
    let data = tar_with(|b| {
        symlink(b, "s", ".");
        symlink(b, "f", "s/../victim.txt");
        file(b, "f", b"overwritten\n");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "f", Refusal::Replaces(Existing::SymbolicLink));
    // Nor a hard link, nor a folder.
    let data = tar_with(|b| {
        file(b, "inner", b"x");
        symlink(b, "f", "inner");
        hard_link(b, "f", "inner");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "f", Refusal::Replaces(Existing::SymbolicLink));
    let data = tar_with(|b| {
        symlink(b, "f", "inner");
        dir(b, "f/");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "f/", Refusal::Replaces(Existing::SymbolicLink));
}

#[test]
fn links_that_loop_or_dangle_through_dotdot_are_refused() {
    let data = tar_with(|b| {
        symlink(b, "a", "b");
        symlink(b, "b", "a");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "a", Refusal::LinkLoops("b".into()));
    // Missing today, but `..` would carry it out once something makes `m`.
    let data = tar_with(|b| {
        symlink(b, "x", "m/../y");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "x", Refusal::LinkDangles("m/../y".into()));
}

#[test]
fn hard_links_only_to_files_already_unpacked() {
    let cases = [
        (
            tar_with(|b| hard_link(b, "passwd", "../../etc/passwd")),
            Refusal::HardLinkTarget(Box::new(Refusal::ParentDir)),
        ),
        (
            tar_with(|b| hard_link(b, "x", "etc/passwd")),
            Refusal::HardLinkNotFile("etc/passwd".into()),
        ),
        (
            tar_with(|b| {
                dir(b, "d/");
                hard_link(b, "x", "d");
            }),
            Refusal::HardLinkNotFile("d".into()),
        ),
    ];
    for (data, reason) in cases {
        let err = Sandbox::new().refuse_tar(&data);
        let UnpackError::Refused { entry, .. } = &err else {
            panic!("{err:?}")
        };
        let entry = entry.clone();
        assert_refused(err, &entry, reason);
    }
}

#[test]
fn nothing_is_unpacked_under_a_file() {
    let data = tar_with(|b| {
        file(b, "f", b"x");
        file(b, "f/x", b"x");
    });
    let err = Sandbox::new().refuse_tar(&data);
    assert_refused(err, "f/x", Refusal::NotAFolder("f".into()));
}

#[test]
fn setuid_setgid_and_sticky_bits_are_dropped() {
    let data = tar_with(|b| {
        let mut h = header(EntryType::Regular, 5);
        h.set_mode(0o7755);
        b.append_data(&mut h, "bin/app", &b"hello"[..]).unwrap();
    });
    let sandbox = Sandbox::new();
    unpack(&data[..], &sandbox.dest, UnpackLimits::default()).unwrap();
    let mode = fs::metadata(sandbox.dest.join("bin/app")).unwrap().mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn unpacks_files_folders_and_inner_links() {
    let data = tar_with(|b| {
        dir(b, "./bin/");
        dir(b, "./bin/");
        let mut h = header(EntryType::Regular, 5);
        h.set_mode(0o755);
        b.append_data(&mut h, "./bin/app", &b"hello"[..]).unwrap();
        file(b, "lib/libfoo.so.1", b"foo");
        symlink(b, "lib/libfoo.so", "libfoo.so.1");
        symlink(b, "lib/app", "../bin/app");
        symlink(b, "lib/app2", "./app");
        symlink(b, "versions/current", "../lib");
        symlink(b, "self", ".");
        symlink(b, "later", "not-yet/made");
        hard_link(b, "app-copy", "./bin/app");
        file(b, "deep/er/still/file.txt", b"deep");
    });
    let sandbox = Sandbox::new();
    let got = unpack(&data[..], &sandbox.dest, UnpackLimits::default()).unwrap();
    assert_eq!(
        got,
        Unpacked {
            entries: 12,
            bytes: 12
        }
    );
    let dest = &sandbox.dest;
    assert_eq!(fs::read(dest.join("lib/app")).unwrap(), b"hello");
    assert_eq!(fs::read(dest.join("lib/app2")).unwrap(), b"hello");
    assert_eq!(fs::read(dest.join("lib/libfoo.so")).unwrap(), b"foo");
    assert_eq!(
        fs::read(dest.join("versions/current/libfoo.so")).unwrap(),
        b"foo"
    );
    assert_eq!(fs::read(dest.join("app-copy")).unwrap(), b"hello");
    assert_eq!(fs::metadata(dest.join("app-copy")).unwrap().nlink(), 2);
    assert_eq!(
        fs::read(dest.join("deep/er/still/file.txt")).unwrap(),
        b"deep"
    );
    let mode = fs::metadata(dest.join("bin/app"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn limits_entries_and_bytes() {
    let data = tar_with(|b| {
        for i in 0..5 {
            file(b, &format!("f{i}"), &[0u8; 100]);
        }
    });
    let few = UnpackLimits {
        max_entries: 3,
        ..UnpackLimits::default()
    };
    let err = Sandbox::new().refuse(|dest| unpack(&data[..], dest, few));
    assert!(matches!(err, UnpackError::TooManyEntries(3)), "{err}");
    let small = UnpackLimits {
        max_bytes: 250,
        ..UnpackLimits::default()
    };
    let err = Sandbox::new().refuse(|dest| unpack(&data[..], dest, small));
    assert!(matches!(err, UnpackError::TooLarge(250)), "{err}");
}
