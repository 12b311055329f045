"""Builds a TUF repository whose targets role delegates through TAP 15 succinct hash bins,
with python-tuf's Metadata API and no code of this project.

usage: make_succinct_repo.py OUT

Writes OUT/initial_root.json and the served repository in OUT/metadata and OUT/targets, with
consistent snapshots and every role expiring in 2099:
  - one ed25519 key per top-level role; root version 1 only;
  - targets lists hello.txt itself and delegates everything through succinct_roles with
    bit_length 5 and name_prefix "bins": 32 bins, "bins-00" to "bins-1f", all signed by one
    ed25519 key, threshold 1, every bin written (empty ones too) and listed in snapshot;
  - eight targets, each signed into the bin python-tuf's get_role_for_target names, chosen
    so that the first and the last bin hold one.
Two hostile variants, each only the metadata files that differ from OUT, signed in the same
run with the same keys (versions unchanged, as snapshot lists no hashes), are written beside:
  - OUT.wrong-bin/metadata: one target moved into another bin (signed by the bin key, which
    every bin shares), and removed from its own;
  - OUT.threshold-2/metadata: targets with the bins' threshold raised to 2 (signed by the
    targets key), while each bin carries one signature.
Writes OUT.bins.json: {"bins": target name -> its bin, "moved": [name, the bin it was moved
into]}, as python-tuf computed them. Prints one JSON object: target name -> hex SHA-256 of its
content.
"""
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)
BIT_LENGTH = 5
PREFIX = "bins"


def pick_names(succinct):
    """Eight names: one in the first bin, one in the last, six more in other bins."""
    names = ["releases/1.0/app.bin"]
    wanted_bins = {succinct.get_role_for_target(names[0])}
    first, last = f"{PREFIX}-00", f"{PREFIX}-1f"
    i = 0
    while not {first, last} <= {succinct.get_role_for_target(n) for n in names}:
        name = f"files/file{i}.txt"
        if succinct.get_role_for_target(name) in {first, last} - wanted_bins:
            names.append(name)
            wanted_bins.add(succinct.get_role_for_target(name))
        i += 1
    i = 0
    while len(names) < 8:
        name = f"data/part{i}.bin"
        role = succinct.get_role_for_target(name)
        if role not in wanted_bins:
            names.append(name)
            wanted_bins.add(role)
        i += 1
    return names


def main():
    out = sys.argv[1]
    keys = {r: CryptoSigner.generate_ed25519() for r in ("root", "timestamp", "snapshot", "targets", "bins")}

    def writer(metadata_dir):
        def write(md, name):
            data = md.to_bytes(JSONSerializer(compact=False))
            os.makedirs(metadata_dir, exist_ok=True)
            with open(os.path.join(metadata_dir, name), "wb") as f:
                f.write(data)
            return data

        return write

    write = writer(os.path.join(out, "metadata"))
    targets_dir = os.path.join(out, "targets")

    root = Metadata(Root(expires=EXPIRES, consistent_snapshot=True))
    for role in ("root", "timestamp", "snapshot", "targets"):
        root.signed.add_key(keys[role].public_key, role)
    root.sign(keys["root"])
    v1 = write(root, "1.root.json")
    with open(os.path.join(out, "initial_root.json"), "wb") as f:
        f.write(v1)

    contents = {}

    def add_target(role_md, name, data):
        role_md.signed.targets[name] = TargetFile.from_data(name, data, ["sha256", "sha512"])
        contents[name] = hashlib.sha256(data).hexdigest()
        directory, _, base = name.rpartition("/")
        for digest in role_md.signed.targets[name].hashes.values():
            path = os.path.join(targets_dir, directory, f"{digest}.{base}")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    targets = Metadata(Targets(expires=EXPIRES))
    add_target(targets, "hello.txt", b"hello from python-tuf's top-level targets\n")
    succinct = SuccinctRoles([], 1, BIT_LENGTH, PREFIX)
    targets.signed.delegations = Delegations(keys={}, succinct_roles=succinct)
    targets.signed.add_key(keys["bins"].public_key)

    bins = {name: Metadata(Targets(expires=EXPIRES)) for name in succinct.get_roles()}
    names = pick_names(succinct)
    placed = {}
    for n, name in enumerate(names):
        placed[name] = succinct.get_role_for_target(name)
        add_target(bins[placed[name]], name, f"target {n}: {name}\n".encode() * (n + 1))

    snapshot = Metadata(Snapshot(expires=EXPIRES))
    for bin_name, md in bins.items():
        md.sign(keys["bins"])
        write(md, f"1.{bin_name}.json")
        snapshot.signed.meta[f"{bin_name}.json"] = MetaFile(version=1)
    targets.sign(keys["targets"])
    write(targets, "1.targets.json")
    snapshot.signed.meta["targets.json"] = MetaFile(version=1)
    snapshot.sign(keys["snapshot"])
    snap_bytes = write(snapshot, "1.snapshot.json")

    timestamp = Metadata(Timestamp(expires=EXPIRES))
    timestamp.signed.snapshot_meta = MetaFile(
        version=1, length=len(snap_bytes), hashes={"sha256": hashlib.sha256(snap_bytes).hexdigest()}
    )
    timestamp.sign(keys["timestamp"])
    write(timestamp, "timestamp.json")

    # Hostile: names[1] (in the first or last bin) listed by its neighbour bin instead.
    moved = names[1]
    home = placed[moved]
    index = int(home.rsplit("-", 1)[1], 16)
    wrong = f"{PREFIX}-{(index + 1) % 2**BIT_LENGTH:02x}"
    write_wrong = writer(f"{out}.wrong-bin/metadata")
    info = bins[home].signed.targets.pop(moved)
    bins[wrong].signed.targets[moved] = info
    for bin_name in (home, wrong):
        bins[bin_name].signatures.clear()
        bins[bin_name].sign(keys["bins"])
        write_wrong(bins[bin_name], f"1.{bin_name}.json")

    # Hostile: the bins' threshold raised to 2 by the targets key; bins keep one signature.
    succinct.threshold = 2
    targets.signatures.clear()
    targets.sign(keys["targets"])
    writer(f"{out}.threshold-2/metadata")(targets, "1.targets.json")

    with open(f"{out}.bins.json", "w") as f:
        json.dump({"bins": placed, "moved": [moved, wrong]}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(contents, sort_keys=True))


if __name__ == "__main__":
    main()
