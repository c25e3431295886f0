"""The ACS rows only: ``python benchmarks/acs.py [-n N]`` = ``run.py --sections acs``.

Kept for old commands; ``benchmarks/run.py`` (``make bench``) prints the whole table.
"""

from __future__ import annotations

import sys

import run

if __name__ == "__main__":
    sys.argv[1:1] = ["--sections", "acs"]
    run.main()
