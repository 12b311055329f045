//! A repository archive's bytes (plain tar, or gzip when they start with gzip's magic)
//! indexed as an archive mirror would index them, without unpacking anything.
//!
//! Invariants checked beyond "no panic": every indexed name is a plain relative path, and
//! every member's bytes lie inside the (uncompressed) tar stream.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use updater::fetch::archive::index_bytes;
use updater_fuzz::fix_tar_checksums;

fuzz_target!(|input: &[u8]| {
    let gzip = input.starts_with(&[0x1f, 0x8b]);
    // A plain tar gets valid header checksums, so mutations reach past the tar crate.
    let mut owned = input.to_vec();
    if !gzip {
        fix_tar_checksums(&mut owned);
    }
    let data = owned.as_slice();
    let Ok(members) = index_bytes(data, gzip) else {
        return;
    };
    // The uncompressed tar stream the offsets refer to. An accepted gzip archive was read
    // to its end, so this inflates without error.
    let stream_len = if gzip {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut inflated)
            .unwrap();
        inflated.len() as u64
    } else {
        data.len() as u64
    };
    for (name, member) in &members {
        assert!(
            !name.is_empty() && !name.starts_with('/'),
            "indexed {name:?}"
        );
        assert!(
            name.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
            "indexed {name:?}"
        );
        let end = member.offset.checked_add(member.length).unwrap();
        assert!(
            end <= stream_len,
            "member {name:?} at {}+{} lies beyond the {stream_len} bytes of the tar stream",
            member.offset,
            member.length,
        );
    }
});
