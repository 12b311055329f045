"""Reads a repository with python-tuf (an independent TUF client) in its DEFAULT configuration
and downloads targets: the named ones, or every target the repository lists.

usage: tuf_fetch.py BASE_URL ROOT_JSON WORKDIR [NAME...]
The Updater is built without a config, so python-tuf applies its own defaults (the limits a
third-party client ships with). Targets are found by python-tuf's own delegation search
(get_targetinfo) and fetched with download_target. Without names, every target of the
top-level index and of every delegated role below it is looked up and downloaded, then
policy.xml (found through the delegated policy role) when there is one.
Prints one JSON line with the default limits in force ({"config": ...}), then one per
target: {"name", "length", "sha512"} of the bytes downloaded. Exits non-zero, with
python-tuf's message, if it refuses anything or cannot find a target.
"""
import dataclasses
import hashlib
import json
import os
import sys

from tuf.ngclient import Updater, UpdaterConfig


def every_target(updater):
    """Every name a role lists (policy.xml last, if listed), walking all delegations."""
    names = []
    queue = [("targets", "root")]
    while queue:
        role, parent = queue.pop(0)
        md = updater._load_targets(role, parent)
        names.extend(n for n in md.targets if n != "policy.xml")
        if md.delegations is not None and md.delegations.roles is not None:
            queue.extend((child, role) for child in md.delegations.roles)
    names = sorted(set(names))
    if updater.get_targetinfo("policy.xml") is not None:
        names.append("policy.xml")
    return names


def main():
    base_url, root_path, workdir = sys.argv[1:4]
    metadata_dir = os.path.join(workdir, "metadata")
    target_dir = os.path.join(workdir, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    with open(root_path, "rb") as f:
        root_bytes = f.read()
    # No `config=`: python-tuf's defaults, whatever this version ships.
    updater = Updater(
        bootstrap=root_bytes,
        metadata_dir=metadata_dir,
        metadata_base_url=f"{base_url}/metadata/",
        target_base_url=f"{base_url}/targets/",
        target_dir=target_dir,
    )
    if updater.config != UpdaterConfig():
        sys.exit(f"the Updater's config is not the default: {updater.config}")
    limits = {k: v for k, v in dataclasses.asdict(updater.config).items()
              if isinstance(v, int) and not isinstance(v, bool)}
    print(json.dumps({"config": limits}), flush=True)
    updater.refresh()
    for name in sys.argv[4:] or every_target(updater):
        info = updater.get_targetinfo(name)
        if info is None:
            sys.exit(f"python-tuf cannot find target {name}")
        # One flat file per target, named by a hash: a long or deep name would not fit in
        # one file name (python-tuf's own default, the name percent-encoded, would not either).
        local = hashlib.sha256(name.encode()).hexdigest()
        path = updater.download_target(info, os.path.join(target_dir, local))
        with open(path, "rb") as f:
            data = f.read()
        print(json.dumps({"name": name, "length": len(data),
                          "sha512": hashlib.sha512(data).hexdigest()}), flush=True)


if __name__ == "__main__":
    main()
