"""Builds a TUF repository with python-tuf's Metadata API, with no code of this project.

usage: make_repo.py OUT [--hostile-names | --fast-forward]

Writes OUT/initial_root.json (root version 1, what a device ships with) and the served
repository in OUT/metadata and OUT/targets, with consistent snapshots:
  - root rotated once: version 2 adds an ECDSA root key and raises the threshold to 2, so
    version 2 is signed by the old root key and the new one;
  - timestamp signed with ECDSA P-256, snapshot with ed25519, targets with RSA-PSS;
  - targets lists hello.txt and delegates releases/* to the role "release" (ed25519,
    terminating), which lists releases/1.0/app.bin.
With --hostile-names, targets also delegates to roles whose names look like paths
("../../outside", "/tmp/abs-role", "sub/dir"), listing targets with odd names, and one role
("escape") that lists "../escape.txt".
With --fast-forward, OUT's timestamp is version 1000 (as if an attacker holding the
timestamp key had pushed devices ahead), and two successors are written beside OUT:
OUT.recovered, where root version 3 replaces the timestamp key and timestamp version 2 is
signed by the new key (recovery as TUF prescribes), and OUT.replayed, with timestamp version
2 signed by the old key and no root change (a rollback, to be refused).
Prints one JSON object: target name -> hex SHA-256 of its content.
"""
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)


def main():
    out = sys.argv[1]
    hostile = "--hostile-names" in sys.argv[2:]
    fast_forward = "--fast-forward" in sys.argv[2:]
    metadata_dir = os.path.join(out, "metadata")
    targets_dir = os.path.join(out, "targets")
    os.makedirs(metadata_dir)
    os.makedirs(targets_dir)

    root_a = CryptoSigner.generate_ed25519()
    root_b = CryptoSigner.generate_ecdsa()
    timestamp_key = CryptoSigner.generate_ecdsa()
    snapshot_key = CryptoSigner.generate_ed25519()
    targets_key = CryptoSigner.generate_rsa()
    release_key = CryptoSigner.generate_ed25519()

    def write(md, name):
        data = md.to_bytes(JSONSerializer(compact=False))
        path = os.path.join(metadata_dir, served_path(name))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return data

    # Root version 1, then version 2 with a second root key and threshold 2.
    root = Metadata(Root(expires=EXPIRES, consistent_snapshot=True))
    root.signed.add_key(root_a.public_key, "root")
    root.signed.add_key(timestamp_key.public_key, "timestamp")
    root.signed.add_key(snapshot_key.public_key, "snapshot")
    root.signed.add_key(targets_key.public_key, "targets")
    root.sign(root_a)
    v1 = write(root, "1.root.json")
    with open(os.path.join(out, "initial_root.json"), "wb") as f:
        f.write(v1)
    root.signed.version = 2
    root.signed.add_key(root_b.public_key, "root")
    root.signed.roles["root"].threshold = 2
    root.signatures.clear()
    root.sign(root_a, append=True)
    root.sign(root_b, append=True)
    write(root, "2.root.json")

    contents = {}

    def add_target(role_md, name, data):
        role_md.signed.targets[name] = TargetFile.from_data(name, data, ["sha256", "sha512"])
        contents[name] = hashlib.sha256(data).hexdigest()
        target = role_md.signed.targets[name]
        directory, _, base = name.rpartition("/")
        # Safe on disk whatever the name: a hostile name is stored percent-encoded, as no
        # client is meant to fetch it successfully.
        if ".." in name.split("/") or name.startswith("/"):
            return
        for digest in target.hashes.values():
            path = os.path.join(targets_dir, directory, f"{digest}.{base}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    targets = Metadata(Targets(expires=EXPIRES))
    add_target(targets, "hello.txt", b"hello from python-tuf\n")
    release = Metadata(Targets(expires=EXPIRES))
    add_target(release, "releases/1.0/app.bin", bytes(range(256)) * 64)
    delegated = {"release": release}
    targets.signed.delegations = Delegations(keys={}, roles={})
    roles = targets.signed.delegations.roles
    roles["release"] = DelegatedRole("release", [], 1, True, ["releases/*/*"])
    targets.signed.add_key(release_key.public_key, "release")
    if hostile:
        odd = {
            "../../outside": ("top.txt", b"listed by a role named ../../outside\n"),
            "/tmp/abs-role": (".dotfile", b"a name starting with a dot\n"),
            "sub/dir": ("..%2Foutside.txt", b"a literal percent sequence\n"),
            "escape": ("../escape.txt", b"must never be written\n"),
        }
        for role_name, (name, data) in odd.items():
            md = Metadata(Targets(expires=EXPIRES))
            add_target(md, name, data)
            delegated[role_name] = md
            roles[role_name] = DelegatedRole(role_name, [], 1, False, ["*", "*/*"])
            targets.signed.add_key(release_key.public_key, role_name)

    snapshot = Metadata(Snapshot(expires=EXPIRES))
    for role_name, md in delegated.items():
        md.sign(release_key)
        write(md, f"1.{quote(role_name)}.json")
        snapshot.signed.meta[f"{role_name}.json"] = MetaFile(version=1)
    targets.sign(targets_key)
    write(targets, "1.targets.json")
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    snapshot.sign(snapshot_key)
    snap_bytes = write(snapshot, "1.snapshot.json")

    timestamp = Metadata(Timestamp(expires=EXPIRES))
    timestamp.signed.snapshot_meta = MetaFile(
        version=1, length=len(snap_bytes), hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()}
    )
    if fast_forward:
        timestamp.signed.version = 1000
    timestamp.sign(timestamp_key)
    write(timestamp, "timestamp.json")

    if fast_forward:
        import shutil

        for suffix in ("recovered", "replayed"):
            shutil.copytree(out, f"{out}.{suffix}")
        # Recovered: root 3 replaces the timestamp key; timestamp starts again at 2.
        metadata_dir = os.path.join(f"{out}.recovered", "metadata")
        new_timestamp_key = CryptoSigner.generate_ed25519()
        root.signed.version = 3
        root.signed.revoke_key(timestamp_key.public_key.keyid, "timestamp")
        root.signed.add_key(new_timestamp_key.public_key, "timestamp")
        root.signatures.clear()
        root.sign(root_a, append=True)
        root.sign(root_b, append=True)
        write(root, "3.root.json")
        timestamp.signed.version = 2
        timestamp.signatures.clear()
        timestamp.sign(new_timestamp_key)
        write(timestamp, "timestamp.json")
        # Replayed: the same timestamp version 2, signed by the old key, root unchanged.
        metadata_dir = os.path.join(f"{out}.replayed", "metadata")
        timestamp.signatures.clear()
        timestamp.sign(timestamp_key)
        write(timestamp, "timestamp.json")
    print(json.dumps(contents))


def served_path(url_path):
    """Where python's http.server looks for URL path `url_path`: unquoted, normalised, with empty, '.'
    and '..' segments dropped. Role files are stored there so that the quoted names
    clients request (python-tuf's and ours alike) are found."""
    import posixpath
    from urllib.parse import unquote

    normal = posixpath.normpath(unquote(url_path))
    return "/".join(w for w in normal.split("/") if w not in ("", ".", ".."))


def quote(role_name):
    from urllib.parse import quote as q

    return q(role_name, "")


if __name__ == "__main__":
    main()
