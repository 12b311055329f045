//! Keys as metadata lists them: real ECDSA and RSA keys (made by `data/keys/generate.sh` with
//! openssl) verify, and every hostile re-encoding of their SubjectPublicKeyInfo (BER lengths,
//! a wrong curve or algorithm, trailing bytes) gives a key that verifies nothing, even with the
//! signature that the real key accepts. Key types python-tuf does not know refuse the metadata.

use base64::Engine;
use serde_json::json;
use tuf_core::key::{
    KeyId, MalformedKey, PublicKey, RsaScheme, SignatureError, UnusableKey, VerifyingKey,
};
use tuf_core::metadata::Root;
use tuf_core::names::RoleName;
use tuf_core::verify::Unverified;
use tuf_core::Error;

const MESSAGE: &[u8] = include_bytes!("data/keys/message");
const P256_PEM: &str = include_str!("data/keys/p256.pub.pem");
const P384_PEM: &str = include_str!("data/keys/p384.pub.pem");
const RSA_PEM: &str = include_str!("data/keys/rsa.pub.pem");

fn sig(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text.trim()).unwrap()
}

fn p256_sig() -> Vec<u8> {
    sig(include_str!("data/keys/p256.sig"))
}

fn listed(keytype: &str, scheme: &str, public: &str) -> PublicKey {
    serde_json::from_value(json!({
        "keytype": keytype, "scheme": scheme, "keyval": {"public": public},
    }))
    .unwrap()
}

/// The DER inside a PEM `PUBLIC KEY` block.
fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// `der` as a PEM `PUBLIC KEY` block, 64 characters a line.
fn pem_of(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// One DER element with a short-form length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 0x80);
    [&[tag, content.len() as u8][..], content].concat()
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// The uncompressed point of the P-256 fixture key.
fn p256_point() -> Vec<u8> {
    let der = der_of(P256_PEM);
    der[der.len() - 65..].to_vec()
}

/// A SubjectPublicKeyInfo for the P-256 fixture's point with algorithm identifier contents
/// `algorithm`.
fn p256_spki(algorithm: &[u8]) -> Vec<u8> {
    let bits = [&[0u8][..], &p256_point()].concat();
    tlv(0x30, &[tlv(0x30, algorithm), tlv(0x03, &bits)].concat())
}

fn assert_unusable(key: &PublicKey, why: MalformedKey, signature: &[u8]) {
    assert_eq!(
        key.verify(MESSAGE, signature),
        Err(SignatureError::MalformedKey)
    );
    assert_eq!(
        key.verifying_key(),
        &VerifyingKey::Unusable(UnusableKey::Malformed(why))
    );
}

#[test]
fn real_ecdsa_and_rsa_keys_verify_their_signatures_and_no_others() {
    let cases = [
        (listed("ecdsa", "ecdsa-sha2-nistp256", P256_PEM), p256_sig()),
        // The legacy key type securesystemslib once wrote, still in old roots.
        (
            listed("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", P256_PEM),
            p256_sig(),
        ),
        (
            listed("ecdsa", "ecdsa-sha2-nistp384", P384_PEM),
            sig(include_str!("data/keys/p384.sig")),
        ),
        (
            listed("rsa", "rsassa-pss-sha256", RSA_PEM),
            sig(include_str!("data/keys/rsa-pss-sha256.sig")),
        ),
        (
            listed("rsa", "rsa-pkcs1v15-sha256", RSA_PEM),
            sig(include_str!("data/keys/rsa-pkcs1v15-sha256.sig")),
        ),
    ];
    for (key, signature) in &cases {
        assert_eq!(key.verify(MESSAGE, signature), Ok(()), "{key:?}");
        assert_eq!(
            key.verify(b"other bytes", signature),
            Err(SignatureError::Mismatch),
            "{key:?}"
        );
    }
    assert!(matches!(
        cases[3].0.verifying_key(),
        VerifyingKey::Rsa(RsaScheme::PssSha256, _)
    ));
    // The PSS key does not take a PKCS#1 v1.5 signature, nor the reverse.
    assert_eq!(
        cases[3].0.verify(MESSAGE, &cases[4].1),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn the_fixture_rebuilt_by_the_test_encoder_still_verifies() {
    // Guards the hostile cases below: they differ from a good key only where they say.
    let rebuilt = p256_spki(&[OID_EC_PUBLIC_KEY, OID_P256].concat());
    assert_eq!(rebuilt, der_of(P256_PEM));
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&rebuilt));
    assert_eq!(key.verify(MESSAGE, &p256_sig()), Ok(()));
}

#[test]
fn a_ber_long_form_length_is_refused() {
    let der = der_of(P256_PEM);
    assert_eq!(der[..2], [0x30, 0x59]);
    // The same length, written in two bytes where one is the shortest form.
    let ber = [&[0x30, 0x81][..], &der[1..]].concat();
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&ber));
    assert_unusable(
        &key,
        MalformedKey::Der(der::ErrorKind::Length {
            tag: der::Tag::Sequence,
        }),
        &p256_sig(),
    );
}

#[test]
fn an_indefinite_length_is_refused() {
    let der = der_of(P256_PEM);
    let ber = [&[0x30, 0x80][..], &der[2..], &[0, 0]].concat();
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&ber));
    assert_eq!(
        key.verify(MESSAGE, &p256_sig()),
        Err(SignatureError::MalformedKey)
    );
}

#[test]
fn a_curve_other_than_the_schemes_is_refused() {
    for curve in [OID_P384, OID_SECP256K1] {
        let spki = p256_spki(&[OID_EC_PUBLIC_KEY, curve].concat());
        let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&spki));
        assert_unusable(&key, MalformedKey::WrongAlgorithm, &p256_sig());
    }
    // A named curve is required: no parameters, or NULL, is not P-256.
    for parameters in [&[][..], &[0x05, 0x00]] {
        let spki = p256_spki(&[OID_EC_PUBLIC_KEY, parameters].concat());
        let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&spki));
        assert_unusable(&key, MalformedKey::WrongAlgorithm, &p256_sig());
    }
    // The real P-256 key listed as a P-384 one.
    let key = listed("ecdsa", "ecdsa-sha2-nistp384", P256_PEM);
    assert_unusable(&key, MalformedKey::WrongAlgorithm, &p256_sig());
}

#[test]
fn a_wrong_algorithm_is_refused() {
    let spki = p256_spki(&[OID_RSA, &[0x05, 0x00]].concat());
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&spki));
    assert_unusable(&key, MalformedKey::WrongAlgorithm, &p256_sig());

    // An RSA key without its NULL parameters.
    let der = der_of(RSA_PEM);
    let rsa = listed("rsa", "rsassa-pss-sha256", RSA_PEM);
    let VerifyingKey::Rsa(_, rsa_public_key) = rsa.verifying_key() else {
        panic!("{rsa:?}")
    };
    assert!(der.ends_with(rsa_public_key.as_slice()));
    let bits = [&[0u8][..], rsa_public_key.as_slice()].concat();
    let mut no_null = tlv(0x30, OID_RSA);
    no_null.extend([0x03, 0x82]);
    no_null.extend((bits.len() as u16).to_be_bytes());
    no_null.extend(&bits);
    let mut spki = vec![0x30, 0x82];
    spki.extend((no_null.len() as u16).to_be_bytes());
    spki.extend(&no_null);
    let key = listed("rsa", "rsassa-pss-sha256", &pem_of(&spki));
    assert_unusable(
        &key,
        MalformedKey::WrongAlgorithm,
        &sig(include_str!("data/keys/rsa-pss-sha256.sig")),
    );
}

#[test]
fn trailing_bytes_anywhere_are_refused() {
    let der = der_of(P256_PEM);
    let after_structure = [&der[..], &[0x00]].concat();
    let in_algorithm = p256_spki(&[OID_EC_PUBLIC_KEY, OID_P256, &[0x05, 0x00]].concat());
    let after_key = {
        let bits = [&[0u8][..], &p256_point()].concat();
        let algorithm = tlv(0x30, &[OID_EC_PUBLIC_KEY, OID_P256].concat());
        tlv(
            0x30,
            &[algorithm, tlv(0x03, &bits), vec![0x05, 0x00]].concat(),
        )
    };
    for (what, spki) in [
        ("after the structure", after_structure),
        ("inside the algorithm identifier", in_algorithm),
        ("after the key bits", after_key),
    ] {
        let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&spki));
        assert_eq!(
            key.verify(MESSAGE, &p256_sig()),
            Err(SignatureError::MalformedKey),
            "trailing bytes {what}"
        );
    }
}

#[test]
fn key_bits_with_unused_bits_or_a_compressed_point_are_refused() {
    let point = p256_point();
    let algorithm = [OID_EC_PUBLIC_KEY, OID_P256].concat();
    let partial = tlv(
        0x30,
        &[
            tlv(0x30, &algorithm),
            tlv(0x03, &[&[1u8][..], &point].concat()),
        ]
        .concat(),
    );
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&partial));
    assert_unusable(&key, MalformedKey::PartialBits, &p256_sig());

    let y_is_odd = point[64] & 1;
    let compressed = [&[0x02 | y_is_odd][..], &point[1..33]].concat();
    let spki = tlv(
        0x30,
        &[
            tlv(0x30, &algorithm),
            tlv(0x03, &[&[0u8][..], &compressed].concat()),
        ]
        .concat(),
    );
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &pem_of(&spki));
    assert_unusable(&key, MalformedKey::Point, &p256_sig());
}

#[test]
fn pem_that_is_not_a_public_key_block_is_refused() {
    let relabelled = P256_PEM.replace("PUBLIC KEY", "RSA PUBLIC KEY");
    let key = listed("ecdsa", "ecdsa-sha2-nistp256", &relabelled);
    assert_unusable(&key, MalformedKey::NotPem, &p256_sig());
}

/// A root listing `keys`, each signing for every role, threshold 1.
fn root_with(keys: serde_json::Value) -> Vec<u8> {
    let ids: Vec<String> = keys.as_object().unwrap().keys().cloned().collect();
    let role = json!({"keyids": ids, "threshold": 1});
    serde_json::to_vec(&json!({
        "signatures": [],
        "signed": {
            "_type": "root", "spec_version": "1.0.31", "version": 1,
            "expires": "2030-01-01T00:00:00Z", "consistent_snapshot": true,
            "keys": keys,
            "roles": {"root": role, "timestamp": role, "snapshot": role, "targets": role},
        },
    }))
    .unwrap()
}

fn parse_root(bytes: &[u8]) -> Result<Root, Error> {
    Unverified::<Root>::parse(&RoleName::root(), bytes).map(|r| r.untrusted().clone())
}

#[test]
fn a_key_type_python_tuf_does_not_know_refuses_the_root() {
    let bytes = root_with(json!({
        "aa": {"keytype": "ed25519", "scheme": "ed25519",
               "keyval": {"public": "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd"}},
        "bb": {"keytype": "rsa", "scheme": "rsassa-pss-sha224",
               "keyval": {"public": RSA_PEM}},
    }));
    let Err(Error::Malformed { what, reason }) = parse_root(&bytes) else {
        panic!("accepted")
    };
    assert_eq!(what, "root.json");
    assert!(
        reason.contains(r#"key bb: key type "rsa" with scheme "rsassa-pss-sha224" is unknown"#),
        "{reason}"
    );
}

#[test]
fn a_known_scheme_we_cannot_check_or_undecodable_material_is_kept_and_never_verifies() {
    // python-tuf reads both roots; such a key fails at its first signature check.
    let root = parse_root(&root_with(json!({
        "mldsa": {"keytype": "ml-dsa", "scheme": "ml-dsa-65/1", "keyval": {"public": "00"}},
        "p521": {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp521", "keyval": {"public": "x"}},
        "garbled": {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                    "keyval": {"public": "not pem"}},
        "short": {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "abcd"}},
    })))
    .unwrap();
    let unusable = |id: &str| root.keys[&KeyId::new(id)].verifying_key().clone();
    assert_eq!(
        unusable("mldsa"),
        VerifyingKey::Unusable(UnusableKey::Unsupported {
            keytype: "ml-dsa".into(),
            scheme: "ml-dsa-65/1".into()
        })
    );
    assert!(matches!(
        unusable("p521"),
        VerifyingKey::Unusable(UnusableKey::Unsupported { .. })
    ));
    assert_eq!(
        unusable("garbled"),
        VerifyingKey::Unusable(UnusableKey::Malformed(MalformedKey::NotPem))
    );
    assert_eq!(
        unusable("short"),
        VerifyingKey::Unusable(UnusableKey::Malformed(MalformedKey::Ed25519Encoding))
    );
    assert_eq!(
        root.keys[&KeyId::new("garbled")].verify(MESSAGE, &p256_sig()),
        Err(SignatureError::MalformedKey)
    );
}

#[test]
fn key_ids_are_taken_as_given_like_python_tuf() {
    // TUF 1.0 key ids are conventionally the SHA-256 of the key's canonical JSON, but
    // python-tuf does not check that for metadata it reads, and neither do we.
    let root = parse_root(&root_with(json!({
        "any-name": {"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
                     "keyval": {"public": P256_PEM}},
    })))
    .unwrap();
    let key = &root.keys[&KeyId::new("any-name")];
    assert_ne!(key.key_id().as_str(), "any-name");
    assert_eq!(key.verify(MESSAGE, &p256_sig()), Ok(()));
}
