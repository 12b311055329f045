"""Runs a command and prints its wall time and peak resident memory (of it and its children).

usage: measure.py LABEL -- CMD [ARGS...]
Prints: LABEL wall_s=... peak_rss_mib=...
"""
import resource
import subprocess
import sys
import time


def main():
    label = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{label} wall_s={wall:.3f} peak_rss_mib={peak_kib / 1024:.1f}", flush=True)


if __name__ == "__main__":
    main()
