//! The digests listed for a file, held compactly: a release of 100,000 files keeps 100,000
//! of these in memory on the device.
//!
//! Invariant: a [`Hashes`] reads and writes the very JSON object a map from algorithm name
//! to hex digest would (keys in sorted order, the last of duplicate keys winning), and
//! answers [`Hashes::get`] as that map would. SHA-256 and SHA-512 digests of their proper
//! length are kept as raw bytes, one allocation each; any other algorithm, or a digest of another
//! length (which can then only mismatch), is kept as listed.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::HexDigest;

const SHA256: &str = "sha256";
const SHA512: &str = "sha512";

/// Digests listed for a file, by algorithm name (`sha512`, `sha256`, ...), as hex.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Hashes {
    // Boxed: a listing moved or collected by the 100,000 stays small.
    sha256: Option<Box<[u8; 32]>>,
    sha512: Option<Box<[u8; 64]>>,
    /// Every other listed digest, sorted by algorithm name, names distinct.
    other: Vec<(String, HexDigest)>,
}

impl Hashes {
    /// The digest listed for `algorithm`.
    pub fn get(&self, algorithm: &str) -> Option<&[u8]> {
        match algorithm {
            SHA256 if self.sha256.is_some() => self.sha256.as_ref().map(|d| d.as_slice()),
            SHA512 if self.sha512.is_some() => self.sha512.as_ref().map(|d| d.as_slice()),
            _ => self
                .other
                .iter()
                .find(|(name, _)| name == algorithm)
                .map(|(_, d)| d.0.as_slice()),
        }
    }

    /// Every listed (algorithm, digest), sorted by algorithm name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let known = [
            self.sha256.as_ref().map(|d| (SHA256, d.as_slice())),
            self.sha512.as_ref().map(|d| (SHA512, d.as_slice())),
        ];
        let mut all: Vec<(&str, &[u8])> = known.into_iter().flatten().collect();
        all.extend(self.other.iter().map(|(n, d)| (n.as_str(), d.0.as_slice())));
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
    }

    /// Every listed digest, in the order of their algorithm names.
    pub fn values(&self) -> impl Iterator<Item = &[u8]> {
        self.iter().map(|(_, d)| d)
    }

    /// How many digests are listed.
    pub fn len(&self) -> usize {
        usize::from(self.sha256.is_some()) + usize::from(self.sha512.is_some()) + self.other.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lists `digest` for `algorithm`, replacing what was listed for it.
    pub fn insert(&mut self, algorithm: String, digest: HexDigest) {
        self.other.retain(|(name, _)| name != &algorithm);
        match algorithm.as_str() {
            SHA256 => self.sha256 = None,
            SHA512 => self.sha512 = None,
            _ => {}
        }
        if let Some(digest) = self.keep_inline(&algorithm, digest) {
            let at = self
                .other
                .partition_point(|(name, _)| name.as_str() < algorithm.as_str());
            self.other.insert(at, (algorithm, digest));
        }
    }

    /// Holds `digest` inline when it is a SHA-256 or SHA-512 of the right length; otherwise
    /// gives it back, for `other`.
    fn keep_inline(&mut self, algorithm: &str, digest: HexDigest) -> Option<HexDigest> {
        match (algorithm, digest.0.as_slice()) {
            (SHA256, bytes) if bytes.len() == 32 => {
                self.sha256 = <[u8; 32]>::try_from(bytes).ok().map(Box::new);
                None
            }
            (SHA512, bytes) if bytes.len() == 64 => {
                self.sha512 = <[u8; 64]>::try_from(bytes).ok().map(Box::new);
                None
            }
            _ => Some(digest),
        }
    }
}

impl FromIterator<(String, HexDigest)> for Hashes {
    /// The last digest listed for an algorithm wins, as in a parsed JSON object. Built in
    /// one pass over the sorted names: a hostile listing of many algorithms (parsed before
    /// any signature is checked) costs n log n, not n².
    fn from_iter<I: IntoIterator<Item = (String, HexDigest)>>(iter: I) -> Self {
        let listed: BTreeMap<String, HexDigest> = iter.into_iter().collect();
        let mut hashes = Hashes::default();
        for (algorithm, digest) in listed {
            if let Some(digest) = hashes.keep_inline(&algorithm, digest) {
                // Sorted and distinct: appended in order.
                hashes.other.push((algorithm, digest));
            }
        }
        hashes
    }
}

impl<const N: usize> From<[(String, HexDigest); N]> for Hashes {
    fn from(listed: [(String, HexDigest); N]) -> Self {
        listed.into_iter().collect()
    }
}

impl Serialize for Hashes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.iter()
                .map(|(name, digest)| (name, hex::encode(digest))),
        )
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HashesVisitor;
        impl<'de> Visitor<'de> for HashesVisitor {
            type Value = Hashes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from algorithm name to hex digest")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashes, A::Error> {
                let mut listed = Vec::new();
                while let Some(entry) = map.next_entry::<String, HexDigest>()? {
                    listed.push(entry);
                }
                Ok(listed.into_iter().collect())
            }
        }
        d.deserialize_map(HashesVisitor)
    }
}

impl fmt::Debug for Hashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(name, digest)| (name, hex::encode(digest))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// What the map this type replaces reads and writes.
    type AsMap = BTreeMap<String, HexDigest>;

    #[test]
    fn reads_and_writes_what_a_map_would() {
        let a64 = "aa".repeat(64);
        let b32 = "bb".repeat(32);
        for text in [
            format!(r#"{{"sha512":"{a64}","sha256":"{b32}"}}"#),
            format!(r#"{{"sha256":"{b32}"}}"#),
            r#"{"sha256":"00","md5":"01","sha512":"02","blake2b":"03"}"#.to_owned(),
            format!(r#"{{"sha256":"00","sha256":"{b32}","sha512":"{a64}","sha512":"ff"}}"#),
            format!(r#"{{"sha256":"{b32}","sha256":"00"}}"#),
            "{}".to_owned(),
            // Many algorithms, some twice: read in one pass (a hostile listing of this
            // shape is parsed before any signature check).
            format!(
                "{{{}}}",
                (0..2000)
                    .map(|i| format!(r#""k{}":"{:02x}""#, i % 1500, i % 256))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ] {
            let ours: Hashes = serde_json::from_str(&text).unwrap();
            let map: AsMap = serde_json::from_str(&text).unwrap();
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&map).unwrap(),
                "{text}"
            );
            for name in ["sha256", "sha512", "md5", "blake2b", "sha1"] {
                assert_eq!(
                    ours.get(name),
                    map.get(name).map(|d| d.0.as_slice()),
                    "{text}"
                );
            }
            assert_eq!(ours.len(), map.len());
            let values: Vec<&[u8]> = map.values().map(|d| d.0.as_slice()).collect();
            assert_eq!(ours.values().collect::<Vec<_>>(), values);
        }
    }

    #[test]
    fn a_digest_that_is_not_hex_is_refused() {
        let e = serde_json::from_str::<Hashes>(r#"{"sha256":"zz"}"#).unwrap_err();
        assert!(e.to_string().contains("digest \"zz\" is not hex"), "{e}");
    }
}
