//! Helpers shared by the fuzz targets.

/// Rewrites the checksum of every tar header in `data`, walking header to header by the
/// octal sizes they declare, so that the fuzzer's changes to names, kinds, links and sizes
/// reach the code under test instead of all failing the checksum. Stops at the first header
/// whose size is not plain octal (base-256 sizes are left as they are).
pub fn fix_tar_checksums(data: &mut [u8]) {
    let mut at = 0usize;
    while at + 512 <= data.len() {
        let header = &mut data[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            at += 512; // end-of-archive blocks, or padding: look further
            continue;
        }
        header[148..156].fill(b' ');
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        let field = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(field.as_bytes());
        let Some(size) = octal(&header[124..136]) else {
            return;
        };
        let blocks = size.div_ceil(512);
        let Some(next) = blocks
            .checked_mul(512)
            .and_then(|b| b.checked_add(512))
            .and_then(|b| usize::try_from(b).ok())
            .and_then(|b| at.checked_add(b))
        else {
            return;
        };
        at = next;
    }
}

/// A tar numeric field in octal (spaces and NULs around it allowed).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}
