"""Reads a repository with python-tuf (an independent TUF client) and downloads every target.

usage: tuf_fetch.py BASE_URL ROOT_JSON WORKDIR
Prints one JSON line per target (and for policy.xml, found through the delegated policy
role, when there is one): {"name", "length", "sha512"} of the bytes downloaded.
Exits non-zero on any verification failure.
"""
import hashlib
import json
import os
import sys

from tuf.ngclient import Updater


def main():
    base_url, root_path, workdir = sys.argv[1:4]
    metadata_dir = os.path.join(workdir, "metadata")
    target_dir = os.path.join(workdir, "targets")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    with open(root_path, "rb") as f:
        root_bytes = f.read()
    updater = Updater(
        bootstrap=root_bytes,
        metadata_dir=metadata_dir,
        metadata_base_url=f"{base_url}/metadata/",
        target_base_url=f"{base_url}/targets/",
        target_dir=target_dir,
    )
    updater.refresh()
    # Every target of the top-level index and of every delegated role below it (the
    # catalogue's release roles, history and volumes), each then looked up by python-tuf's
    # own search, which must find it.
    names = []
    queue = [("targets", "root")]
    while queue:
        role, parent = queue.pop(0)
        md = updater._load_targets(role, parent)
        names.extend(n for n in md.targets if n != "policy.xml")
        if md.delegations is not None and md.delegations.roles is not None:
            queue.extend((child, role) for child in md.delegations.roles)
    for name in sorted(names):
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
    # The rollout policy, signed by the delegated role "policy", if the repository has one.
    info = updater.get_targetinfo("policy.xml")
    if info is not None:
        path = updater.download_target(info, os.path.join(target_dir, "policy.xml"))
        with open(path, "rb") as f:
            data = f.read()
        print(json.dumps({"name": "policy.xml", "length": len(data),
                          "sha512": hashlib.sha512(data).hexdigest()}), flush=True)


if __name__ == "__main__":
    main()
