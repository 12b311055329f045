#!/bin/sh
# Regenerates the key fixtures of tuf-core/tests/keys.rs with openssl: public keys as
# SubjectPublicKeyInfo PEM (what securesystemslib puts in `keyval.public`) and signatures, as
# hex, over the bytes of `message`. Private keys live only in a temporary folder.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'the canonical bytes of some metadata' > message

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.key"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
for k in p256 p384 rsa; do openssl pkey -in "$tmp/$k.key" -pubout -out "$k.pub.pem"; done

sign() { # key digest output [openssl options]
  key=$1 digest=$2 out=$3; shift 3
  openssl dgst "-$digest" -sign "$tmp/$key.key" "$@" -out "$tmp/sig" message
  od -An -v -tx1 "$tmp/sig" | tr -d ' \n' > "$out"
}
sign p256 sha256 p256.sig
sign p384 sha384 p384.sig
# PSS with the salt as long as the digest, as securesystemslib signs.
sign rsa sha256 rsa-pss-sha256.sig -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
sign rsa sha256 rsa-pkcs1v15-sha256.sig
