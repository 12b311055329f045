//! Canonical JSON against the reference: securesystemslib's `encode_canonical` (what
//! python-tuf signs with) over 2,000 generated values, byte for byte, made from each value
//! and from its text (compact and indented), as a device makes it from a signed part. The values stress what
//! implementations get wrong: key order of non-ASCII keys (code points, not UTF-16 units),
//! control characters, quotes and backslashes, characters beyond the BMP, decomposed and
//! composed accents (no Unicode normalisation: two names must never sign alike), and the
//! extremes of 64-bit integers.
//!
//! Needs python with securesystemslib: `TUF_PYTHON`, else the workspace's `.venv/bin/python`
//! (installed by `scripts/install-deps.sh`). Missing, the test fails and says so.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use tuf_core::canonical::{text_to_canonical_bytes, to_canonical_bytes};

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    " ",
    "\"",
    "\\",
    "/",
    "\u{0}",
    "\u{1}",
    "\n",
    "\t",
    "\u{1f}",
    "\u{7f}",
    "é",
    "e\u{301}",
    "ß",
    "Ω",
    "\u{2028}",
    "\u{feff}",
    "日本",
    "\u{10000}",
    "😀",
    "\u{fffd}",
    "%2F",
    "..",
    "key",
];

fn string(rng: &mut Rng) -> String {
    (0..rng.below(6))
        .map(|_| PIECES[rng.below(PIECES.len() as u64) as usize])
        .collect()
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    let pick = if depth > 3 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => match rng.below(5) {
            0 => Value::from(i64::MIN),
            1 => Value::from(u64::MAX),
            2 => Value::from(rng.next() as i64),
            _ => Value::from(rng.below(1000)),
        },
        3 => Value::String(string(rng)),
        4 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert(string(rng), value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TUF_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/install-deps.sh (or set TUF_PYTHON)",
        venv.display()
    );
    venv
}

#[test]
fn canonical_bytes_match_securesystemslib() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let values: Vec<Value> = (0..2000).map(|_| value(&mut rng, 0)).collect();
    let input: String = values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap() + "\n")
        .collect();
    let script = "import sys, json\n\
        from securesystemslib.formats import encode_canonical\n\
        for line in sys.stdin:\n    \
        print(encode_canonical(json.loads(line)).encode('utf-8').hex())\n";
    let mut child = Command::new(python())
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "securesystemslib failed: {out:?}");
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), values.len());
    let mut differ = 0;
    for (value, theirs) in values.iter().zip(&theirs) {
        // From the parsed value (what `repo` signs), and from the text as a device reads a
        // signed part, compact and indented.
        let from_value = to_canonical_bytes(value).unwrap();
        let compact = serde_json::to_string(value).unwrap();
        let indented = serde_json::to_string_pretty(value).unwrap();
        for (how, ours) in [
            ("value", from_value),
            ("compact text", text_to_canonical_bytes(&compact).unwrap()),
            ("indented text", text_to_canonical_bytes(&indented).unwrap()),
        ] {
            let ours = hex::encode(ours);
            if &ours != theirs {
                differ += 1;
                if differ <= 3 {
                    eprintln!("differs for {value} ({how}):\n ours   {ours}\n theirs {theirs}");
                }
            }
        }
    }
    assert_eq!(differ, 0, "{differ} of {} values differ", values.len());
}
