"""Refreshes with python-tuf's DEFAULT configuration and downloads the named targets.

usage: tuf_get.py BASE_URL ROOT_JSON WORKDIR NAME...
The Updater is built without a config, so python-tuf applies its own defaults (the limits
a third-party client ships with), and only its public API is used: refresh(),
get_targetinfo() (python-tuf's own delegation search), download_target().
Prints one JSON line with the default limits in force ({"config": ...}), then one per target:
{"name", "length", "sha512"} of the bytes downloaded. Exits non-zero, with python-tuf's
message, if it refuses anything or cannot find a target.
"""
import dataclasses
import hashlib
import json
import os
import sys

from tuf.ngclient import Updater, UpdaterConfig


def main():
    base_url, root_path, workdir = sys.argv[1:4]
    names = sys.argv[4:]
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
    for name in names:
        info = updater.get_targetinfo(name)
        if info is None:
            sys.exit(f"python-tuf cannot find target {name}")
        local = hashlib.sha256(name.encode()).hexdigest()
        path = updater.download_target(info, os.path.join(target_dir, local))
        with open(path, "rb") as f:
            data = f.read()
        print(json.dumps({"name": name, "length": len(data),
                          "sha512": hashlib.sha512(data).hexdigest()}), flush=True)


if __name__ == "__main__":
    main()
