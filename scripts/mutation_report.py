"""The mutation score per module, from mutmut's results in ``mutants/`` (``make mutation``).

    python scripts/mutation_report.py                  # killed/tested and score per module
    python scripts/mutation_report.py --survivors      # ... and the names of the survivors
    python scripts/mutation_report.py --sample 120 protocol.checks   # a seeded sample of checks.py's mutants

A mutant counts as killed when a test failed on it (a test that hangs fails by pytest-timeout);
survivors passed every test that calls the mutated function, or no test calls it, or the run
outlasted mutmut's own CPU budget. Mutants not run yet are left out of the score and
counted apart, so a sampled run reports the score of its sample.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

KILLED = {1, 3, -11}  # a test failed (a hang fails its test: pytest-timeout), or the process crashed
# passed every test, no test of the selection calls the function, or ran out of mutmut's CPU budget
# (a slow survivor; a real hang is caught by the per-test timeout above): never counted as killed
SURVIVED = {0, 5, 33, 24, -24, 36, 152, 255}


def results(root: Path) -> dict[str, dict[str, int | None]]:
    """``{module: {mutant name: exit code or None}}`` for every ``*.py.meta`` under ``root``.

    Modules are named by their dotted path below the package (``protocol.checks``), as
    ``make mutation``'s MUTATION_MODULES names them.
    """
    found: dict[str, dict[str, int | None]] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        data = json.loads(meta.read_text("utf-8"))
        dotted = str(meta.relative_to(root)).removesuffix(".py.meta").replace("/", ".")
        found[dotted.removeprefix("saml_middleware.")] = data["exit_code_by_key"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--sample", type=int, default=0, help="print N mutant names of MODULE, seeded")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("module", nargs="?", default="")
    args = parser.parse_args()
    by_module = results(args.dir)
    if not by_module:
        print(f"no mutmut results under {args.dir}/: run `make mutation` first")
        return 1
    if args.sample:
        if args.module not in by_module:
            print(f"no module {args.module!r} in {args.dir}/: one of {', '.join(by_module)}")
            return 2
        names = sorted(by_module[args.module])
        picked = random.Random(args.seed).sample(names, min(args.sample, len(names)))
        print("\n".join(sorted(picked)))
        return 0
    print(f"{'module':<22}{'mutants':>8}{'killed':>8}{'tested':>8}{'score':>8}{'not run':>9}{'other':>7}")
    for module, codes in by_module.items():
        tested = [c for c in codes.values() if c in KILLED or c in SURVIVED]
        killed = sum(c in KILLED for c in tested)
        not_run = sum(c is None for c in codes.values())
        # interrupted, skipped, suspicious, killed by a signal: neither killed nor survived, run again
        other = {n: c for n, c in codes.items() if c is not None and c not in KILLED and c not in SURVIVED}
        score = f"{100 * killed / len(tested):.0f}%" if tested else "-"
        print(f"{module:<22}{len(codes):>8}{killed:>8}{len(tested):>8}{score:>8}{not_run:>9}{len(other):>7}")
        if args.survivors:
            for name, code in sorted(codes.items()):
                if code in SURVIVED:
                    what = "survived" if code == 0 else "no tests" if code in (5, 33) else "timeout"
                    print(f"    {what}: {name}")
                elif name in other:
                    print(f"    exit code {code}, run it again: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
