"""Two commits' ``acs`` and ``hot`` tables in the same run: is this tree slower than ``--base``?

Run: ``.benchvenv/bin/python benchmarks/compare.py --base <git-rev> [--rounds 5] [-n 300] [--hot-n 20000]``

The base revision is exported (``git archive``) into a temporary directory. Each round
runs ``benchmarks/run.py --sections acs,hot`` once for the base and once for this working
tree (uncommitted changes included), alternating which goes first, each in its own
interpreter (this one, so the same ``.benchvenv`` dependencies) with ``PYTHONPATH`` at that
tree, so each imports its own ``saml_middleware`` and runs its own benchmark code. Per row
it prints the median p50 of each side over the rounds, and the median of the per-round
ratios this/base (the peers' rows do not depend on the package: they show the noise).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: a table row: the name padded to 48 columns, then p50 and p99
ROW = re.compile(r"^(?P<name>[^#\s].{47}) +(?P<p50>-?\d+\.\d+) +(?P<p99>-?\d+\.\d+)")
UNIT = re.compile(r"p50 (ms|us)")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` as files in ``into`` (no worktree registered, nothing left behind)."""
    archive = into / "base.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), rev], cwd=ROOT, check=True)
    tree = into / "base"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def child_env(tree: Path) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{path}" if path else str(tree)}


def check_package(tree: Path) -> None:
    """Refuse to compare when ``tree``'s interpreter would import another tree's package."""
    code = "import saml_middleware; print(saml_middleware.__file__)"
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, cwd=tree, env=child_env(tree), capture_output=True, text=True, check=True)
    found = done.stdout.strip()
    if not Path(found).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: the package imported is {found}, not this tree's")


def table(tree: Path, args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """One ``run.py`` of ``tree``: ``{row name: (p50, unit)}``."""
    command = [
        sys.executable, str(tree / "benchmarks" / "run.py"), "--sections", args.sections,
        "-n", str(args.n), "--hot-n", str(args.hot_n),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tree, env=child_env(tree), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    rows: dict[str, tuple[float, str]] = {}
    unit = ""
    for line in done.stdout.splitlines():
        if heading := UNIT.search(line):
            unit = heading.group(1)
        elif not line.strip():
            unit = ""
        elif unit and (row := ROW.match(line)):
            rows[row["name"].rstrip()] = (float(row["p50"]), unit)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each tree, alternating")
    parser.add_argument("--sections", default="acs,hot", choices=("acs,hot", "acs", "hot"))
    parser.add_argument("-n", type=int, default=300, help="responses per ACS contender, per run")
    parser.add_argument("--hot-n", type=int, default=20_000, help="calls per hot-path row, per run")
    args = parser.parse_args()
    base_sha = git("rev-parse", "--short", f"{args.base}^{{commit}}")
    dirty = "+uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    samples: dict[str, dict[str, list[float]]] = {}
    units: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        trees = {"base": export(args.base, Path(tmp)), "this": ROOT}
        for tree in trees.values():
            check_package(tree)
        print(f"# base {args.base} = {base_sha} ({git('log', '-1', '--format=%s', base_sha)[:70]})")
        print(f"# this tree: {git('rev-parse', '--short', 'HEAD')}{dirty}")
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"# {args.rounds} alternating rounds of run.py --sections {args.sections} -n {args.n} "
            f"--hot-n {args.hot_n}; load average at start: {load}"
        )
        for round_ in range(args.rounds):
            order = ("base", "this") if round_ % 2 == 0 else ("this", "base")
            for side in order:
                for name, (p50, unit) in table(trees[side], args).items():
                    samples.setdefault(name, {"base": [], "this": []})[side].append(p50)
                    units[name] = unit
            print(f"# round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"{'row':48} {'unit':>4} {'base p50':>9} {'this p50':>9} {'this/base':>9}  per round")
    for name, sides in samples.items():
        if len(sides["base"]) != len(sides["this"]):
            print(f"{name:48} (only in {'base' if sides['base'] else 'this'})")
            continue
        ratios = sorted(t / b for b, t in zip(sides["base"], sides["this"], strict=True) if b)
        ratio = statistics.median(ratios) if ratios else float("nan")
        print(
            f"{name:48} {units[name]:>4} {statistics.median(sides['base']):9.2f} "
            f"{statistics.median(sides['this']):9.2f} {ratio:8.2f}x  {' '.join(f'{r:.2f}' for r in ratios)}"
        )
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
