//! TAP 15 succinct hash bins, as python-tuf 7's `SuccinctRoles` reads and writes them.
//!
//! Invariant: a `succinct_roles` object stands for 2^`bit_length` delegated roles (1 to 32
//! bits); bin `i` is named `{name_prefix}-{i}` with `i` in lower-case hex, zero-padded to
//! ceil(`bit_length` / 4) digits; a target name belongs to the one bin numbered by the first
//! `bit_length` bits of the SHA-256 of its name; every bin has the object's keys and threshold
//! and is terminating (python-tuf's `get_roles_for_target` yields a bin with `True`: nothing
//! queued before it is searched for that name). Each bin is handed out as an ordinary
//! [`DelegatedRole`] whose `path_hash_prefixes` cover exactly its names, so the delegation
//! walker and `covers` treat bins as any other role. Bins are made one at a time, on demand:
//! nothing here ever holds all 2^32 of them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::{DelegatedRole, Threshold};
use crate::hash::Sha256;
use crate::key::KeyId;
use crate::names::{RoleName, TargetName};

/// How many leading bits of a target name's SHA-256 pick its bin: 1 to 32.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BitLength(u32);

impl BitLength {
    /// `n`, if it is 1 to 32 (python-tuf's bounds).
    pub fn new(n: u32) -> Option<Self> {
        (1..=32).contains(&n).then_some(BitLength(n))
    }

    /// The number.
    pub fn get(&self) -> u32 {
        self.0
    }

    /// How many bins: 2^bits.
    pub fn bins(&self) -> u64 {
        1u64 << self.0
    }

    /// Hex digits in a bin's suffix: those of the last bin, ceil(bits / 4).
    pub fn width(&self) -> usize {
        self.0.div_ceil(4) as usize
    }
}

impl<'de> Deserialize<'de> for BitLength {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        u32::try_from(n)
            .ok()
            .and_then(BitLength::new)
            .ok_or_else(|| serde::de::Error::custom(format!("bit_length {n} is not 1 to 32")))
    }
}

impl fmt::Debug for BitLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bits", self.0)
    }
}

/// The `succinct_roles` object of a `delegations`: every bin's keys and threshold, how many
/// bins there are and what they are called. Its bin names all fit the role-name limit
/// (checked while parsing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSuccinctRoles")]
pub struct SuccinctRoles {
    pub keyids: Vec<KeyId>,
    pub threshold: Threshold,
    pub bit_length: BitLength,
    pub name_prefix: RoleName,
}

/// The object as written, before the bin names are checked.
#[derive(Deserialize)]
struct RawSuccinctRoles {
    keyids: Vec<KeyId>,
    threshold: Threshold,
    bit_length: BitLength,
    name_prefix: RoleName,
}

impl TryFrom<RawSuccinctRoles> for SuccinctRoles {
    type Error = String;

    fn try_from(raw: RawSuccinctRoles) -> Result<Self, String> {
        let succinct = SuccinctRoles {
            keyids: raw.keyids,
            threshold: raw.threshold,
            bit_length: raw.bit_length,
            name_prefix: raw.name_prefix,
        };
        // Every bin name has the same length, so the last one stands for all.
        let last = succinct.bin_suffix(succinct.bit_length.bins() - 1);
        RoleName::new(format!("{}-{last}", succinct.name_prefix)).map_err(|e| {
            format!(
                "succinct_roles name_prefix {:?} makes bin names that {e}",
                succinct.name_prefix.as_str()
            )
        })?;
        Ok(succinct)
    }
}

impl SuccinctRoles {
    /// How many bins this object stands for.
    pub fn bin_count(&self) -> u64 {
        self.bit_length.bins()
    }

    /// Bin `index` (below [`Self::bin_count`]), as an ordinary terminating delegated role
    /// covering exactly the names whose SHA-256 starts with its bits.
    pub fn bin(&self, index: u64) -> DelegatedRole {
        DelegatedRole {
            name: self.bin_name(index),
            keyids: self.keyids.clone(),
            threshold: self.threshold,
            terminating: true,
            paths: None,
            path_hash_prefixes: Some(self.hex_prefixes(index)),
        }
    }

    /// The name of bin `index`: python-tuf's `{name_prefix}-{index:0{width}x}`.
    pub fn bin_name(&self, index: u64) -> RoleName {
        self.name_prefix.bin(&self.bin_suffix(index))
    }

    /// The bin `target` belongs to: the first `bit_length` bits of the SHA-256 of its name
    /// (python-tuf's `get_role_for_target`).
    pub fn bin_for(&self, target: &TargetName) -> u64 {
        let digest = Sha256::digest(target.as_str().as_bytes()).0;
        let first = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        u64::from(first) >> (32 - self.bit_length.get())
    }

    /// The index of the bin called `role`, if this object stands for one by that name
    /// (python-tuf's `is_delegated_role`, taking only the lower-case name it writes: an
    /// upper-case or signed spelling would be a second name for the same bin).
    pub fn bin_index(&self, role: &RoleName) -> Option<u64> {
        let suffix = role
            .as_str()
            .strip_prefix(self.name_prefix.as_str())?
            .strip_prefix('-')?;
        let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if suffix.len() != self.bit_length.width() || !suffix.chars().all(lower_hex) {
            return None;
        }
        let index = u64::from_str_radix(suffix, 16).ok()?;
        (index < self.bin_count()).then_some(index)
    }

    fn bin_suffix(&self, index: u64) -> String {
        format!("{index:0width$x}", width = self.bit_length.width())
    }

    /// The hex prefixes, `width` digits long, of the digests in bin `index`: its bits
    /// followed by every value of the bits that round them up to whole hex digits.
    fn hex_prefixes(&self, index: u64) -> Vec<String> {
        let width = self.bit_length.width();
        let spare = 4 * width as u32 - self.bit_length.get();
        (0..1u64 << spare)
            .map(|low| format!("{:0width$x}", (index << spare) | low))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn succinct(bit_length: u32) -> SuccinctRoles {
        serde_json::from_value(serde_json::json!({
            "keyids": [], "threshold": 1, "bit_length": bit_length, "name_prefix": "bins",
        }))
        .unwrap()
    }

    fn target(name: &str) -> TargetName {
        TargetName::new(name).unwrap()
    }

    /// What python-tuf 7.0.1's `SuccinctRoles([], 1, bits, "bins")` answered:
    /// `get_role_for_target` for four names, then the first and last of `get_roles()`.
    const PYTHON_TUF: &[(u32, [&str; 4], &str, &str)] = &[
        (
            1,
            ["bins-0", "bins-1", "bins-0", "bins-1"],
            "bins-0",
            "bins-1",
        ),
        (
            4,
            ["bins-7", "bins-b", "bins-0", "bins-c"],
            "bins-0",
            "bins-f",
        ),
        (
            5,
            ["bins-0e", "bins-17", "bins-00", "bins-19"],
            "bins-00",
            "bins-1f",
        ),
        (
            10,
            ["bins-1cd", "bins-2e3", "bins-017", "bins-32a"],
            "bins-000",
            "bins-3ff",
        ),
        (
            13,
            ["bins-0e69", "bins-171d", "bins-00bc", "bins-1952"],
            "bins-0000",
            "bins-1fff",
        ),
        (
            32,
            [
                "bins-734cad14",
                "bins-b8ea3ffb",
                "bins-05e7a1aa",
                "bins-ca978112",
            ],
            "bins-00000000",
            "bins-ffffffff",
        ),
    ];
    const NAMES: [&str; 4] = ["hello.txt", "releases/1.0/app.bin", "files/file22.txt", "a"];

    #[test]
    fn bin_names_and_bin_choice_match_python_tuf() {
        for (bits, bins, first, last) in PYTHON_TUF {
            let s = succinct(*bits);
            assert_eq!(s.bin_name(0).as_str(), *first, "{bits} bits");
            assert_eq!(s.bin_name(s.bin_count() - 1).as_str(), *last, "{bits} bits");
            for (name, bin) in NAMES.iter().zip(bins) {
                let index = s.bin_for(&target(name));
                assert_eq!(s.bin_name(index).as_str(), *bin, "{bits} bits: {name}");
                // The bin found by name is the bin, and it (alone) covers the name.
                assert_eq!(s.bin_index(&s.bin_name(index)), Some(index));
                assert!(s.bin(index).covers(&target(name)), "{bits} bits: {name}");
                let other = (index + 1) % s.bin_count();
                assert!(!s.bin(other).covers(&target(name)), "{bits} bits: {name}");
            }
        }
    }

    #[test]
    fn every_name_is_covered_by_exactly_its_own_bin() {
        for bits in [1, 2, 3, 4, 5, 6, 7] {
            let s = succinct(bits);
            for i in 0..64 {
                let name = target(&format!("dir/file{i}.bin"));
                let covering: Vec<u64> = (0..s.bin_count())
                    .filter(|&b| s.bin(b).covers(&name))
                    .collect();
                assert_eq!(covering, [s.bin_for(&name)], "{bits} bits: {name}");
            }
        }
        // A bin rounds its bits up to whole hex digits: 5 bits, 2 digits, 8 prefixes.
        assert_eq!(
            succinct(5).bin(0x17).path_hash_prefixes.unwrap(),
            ["b8", "b9", "ba", "bb", "bc", "bd", "be", "bf"]
        );
        let bin = succinct(32).bin(0xffff_ffff);
        assert_eq!(bin.path_hash_prefixes.unwrap(), ["ffffffff"]);
        assert!(bin.terminating);
    }

    #[test]
    fn only_the_names_python_tuf_writes_are_bins() {
        let s = succinct(5);
        let index = |name: &str| s.bin_index(&RoleName::new(name).unwrap());
        assert_eq!(index("bins-00"), Some(0));
        assert_eq!(index("bins-1f"), Some(31));
        for not_a_bin in [
            "bins-20", "bins-1F", "bins-0", "bins-000", "bins-+1", "bins- 1", "bins_01", "bins",
            "bins-", "other-01", "binsx-01",
        ] {
            assert_eq!(index(not_a_bin), None, "{not_a_bin}");
        }
    }

    #[test]
    fn bit_lengths_and_prefixes_are_checked() {
        let parse = |bits: serde_json::Value, prefix: &str| {
            serde_json::from_value::<SuccinctRoles>(serde_json::json!({
                "keyids": [], "threshold": 1, "bit_length": bits, "name_prefix": prefix,
            }))
            .map_err(|e| e.to_string())
        };
        assert!(parse(1.into(), "b").is_ok());
        assert!(parse(32.into(), "b").is_ok());
        for bits in [0u64, 33, 1 << 40] {
            let e = parse(bits.into(), "b").unwrap_err();
            assert!(
                e.contains(&format!("bit_length {bits} is not 1 to 32")),
                "{e}"
            );
        }
        assert!(parse((-1).into(), "b").is_err());
        assert!(parse(4.into(), "").unwrap_err().contains("is empty"));
        // The longest prefix whose 8-digit bin names still fit 1024 bytes.
        assert!(parse(32.into(), &"p".repeat(1015)).is_ok());
        let e = parse(32.into(), &"p".repeat(1016)).unwrap_err();
        assert!(
            e.contains("makes bin names that is longer than 1024 bytes"),
            "{e}"
        );
    }
}
