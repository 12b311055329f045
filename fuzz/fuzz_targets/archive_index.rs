//! A repository archive's bytes (plain tar, or gzip when they start with gzip's magic)
//! indexed as an archive mirror would index them, without unpacking anything.
//!
//! Invariants checked beyond "no panic": every indexed name is a plain relative path, and
//! for a plain tar every member's bytes lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use updater::archive::index_bytes;

fuzz_target!(|data: &[u8]| {
    let gzip = data.starts_with(&[0x1f, 0x8b]);
    let Ok(members) = index_bytes(data, gzip) else {
        return;
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
        if !gzip {
            let end = member.offset.checked_add(member.length).unwrap();
            assert!(
                end <= data.len() as u64,
                "member {name:?} at {}+{} lies beyond the {} input bytes",
                member.offset,
                member.length,
                data.len()
            );
        }
    }
});
