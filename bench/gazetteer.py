"""Gazetteer benchmark: load time and lookup latency, printed, not asserted.

Load: ``Gazetteer.load()`` timed in fresh processes (what the bot pays at start-up; the
module import is timed separately), median and best of ``--loads`` runs.

Times are wall-clock and, in brackets, CPU time of the process or thread: on a shared
machine the CPU time shows the code's own cost when other work preempts it.

Lookups: a few thousand search queries made from the packaged data file with a fixed seed -
official names, transliterations, lower case, prefixes, one and two typos, Russian-style
endings, names with an oblast or a settlement-type word, GeoNames aliases, garbage - and
``nearest()`` for random points over Ukraine; p50/p90/p99/max per call.

    python bench/gazetteer.py [--queries 3000] [--points 2000] [--loads 7]

To compare with another version (e.g. the one before a change), check its files out into
a temporary directory - without touching the working tree - and name them:

    git show HEAD~1:bot/gazetteer.py > /tmp/old_gazetteer.py
    git show HEAD~1:bot/data/gazetteer-ua.json.gz > /tmp/old_gazetteer-ua.json.gz
    python bench/gazetteer.py --baseline /tmp/old_gazetteer.py /tmp/old_gazetteer-ua.json.gz

Both versions answer the same queries, and their load runs are interleaved so that other
load on the machine affects both alike.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "bot" / "gazetteer.py"
DATA = ROOT / "bot" / "data" / "gazetteer-ua.json.gz"

_LOAD_SNIPPET = """
import importlib.util, sys, time
from pathlib import Path
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("_bench_gazetteer", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
t1, c1 = time.perf_counter(), time.process_time()
gazetteer = module.Gazetteer.load(Path(sys.argv[2]))
t2, c2 = time.perf_counter(), time.process_time()
print(t1 - t0, t2 - t1, c2 - c1, len(gazetteer))
"""


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    letters = "абвгдежзиклмнопрстуфхцчшщюяі" if not word.isascii() else "abcdefghiklmnoprstuvyz"
    if kind == 0:
        return word[:i] + word[i + 1 :]  # deletion
    if kind == 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swap
    if kind == 2:
        return word[:i] + rng.choice(letters) + word[i + 1 :]  # substitution
    return word[:i] + rng.choice(letters) + word[i:]  # insertion


_RU_ENDINGS = (("ське", "ское"), ("цьке", "цкое"), ("не", "ное"), ("ів", "ов"), ("ий", "ый"))
_OBLASTS = ("Київська обл.", "Харківська область", "Donetsk Oblast", "Одесская обл.", "Львів")


def make_queries(data: Path, count: int, seed: int = 2024) -> list[str]:
    """``count`` varied queries drawn from the data file (same file -> same queries)."""
    document: dict[str, Any] = json.loads(gzip.decompress(data.read_bytes()))
    places = document["places"]
    names_uk = places["name_uk"].split("\n")
    names_en = places["name_en"].split("\n")
    keys = document["index"]["keys"].split("\n")
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        i = rng.randrange(len(names_uk))
        uk, en = names_uk[i], names_en[i]
        kind = rng.randrange(12)
        if kind == 0:
            out.append(uk)
        elif kind == 1:
            out.append(en)
        elif kind == 2:
            out.append(uk.lower())
        elif kind == 3:
            out.append(uk[: max(3, len(uk) // 2)])  # prefix
        elif kind == 4:
            out.append(_typo(rng, uk))
        elif kind == 5:
            out.append(_typo(rng, _typo(rng, uk)))
        elif kind == 6:
            out.append(_typo(rng, en))
        elif kind == 7:
            ru = uk
            for a, b in _RU_ENDINGS:
                if ru.endswith(a):
                    ru = ru[: -len(a)] + b
                    break
            out.append(ru.replace("і", "и"))
        elif kind == 8:
            out.append(f"{uk}, {rng.choice(_OBLASTS)}")
        elif kind == 9:
            out.append(f"{rng.choice(('с.', 'смт', 'м.', 'село', 'village'))} {uk}")
        elif kind == 10:
            out.append(rng.choice(keys))  # an alias (folded form), as typed
        else:
            out.append("".join(rng.choice("qwertyuiopйцукенгшщзх ") for _ in range(9)))
    return out


def make_points(count: int, seed: int = 7) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.uniform(44.4, 52.4), rng.uniform(22.1, 40.2)) for _ in range(count)]


def time_calls(func: Any, args: list[Any]) -> tuple[list[float], list[float]]:
    """Wall-clock and thread CPU milliseconds of each call."""
    wall: list[float] = []
    cpu: list[float] = []
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for arg in args:
        start, cpu_start = clock(), cpu_clock()
        func(*arg) if isinstance(arg, tuple) else func(arg)
        cpu.append((cpu_clock() - cpu_start) / 1e6)
        wall.append((clock() - start) / 1e6)
    return wall, cpu


def summary(timings: tuple[list[float], list[float]]) -> str:
    wall, cpu = timings
    return (
        ", ".join(
            f"{name} {percentile(wall, q):.3f} ms ({percentile(cpu, q):.3f})"
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99))
        )
        + f", max {max(wall):.2f} ms ({max(cpu):.2f})"
    )


def load_runs(module: Path, data: Path) -> tuple[float, float, float, int]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and files
        [sys.executable, "-c", _LOAD_SNIPPET, str(module), str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    imported, loaded, cpu, count = result.stdout.split()
    return float(imported), float(loaded), float(cpu), int(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=7, help="fresh-process loads per version")
    parser.add_argument(
        "--baseline",
        nargs=2,
        type=Path,
        metavar=("MODULE", "DATA"),
        help="another gazetteer.py and its data file, to compare with",
    )
    args = parser.parse_args()

    versions = {"current": (MODULE, DATA)}
    if args.baseline:
        versions["baseline"] = (args.baseline[0], args.baseline[1])

    print(f"Python {sys.version.split()[0]}; data {DATA.stat().st_size / 1024:.0f} KiB gzip")
    loads: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in versions}
    for _ in range(args.loads):
        for name, (module, data) in versions.items():  # interleaved
            loads[name].append(load_runs(module, data))
    for name, runs in loads.items():
        imports = [r[0] * 1000 for r in runs]
        times = [r[1] * 1000 for r in runs]
        cpu = [r[2] * 1000 for r in runs]
        print(
            f"[{name}] {runs[0][3]} places; load (fresh process, {len(runs)} runs): median "
            f"{statistics.median(times):.0f} ms ({statistics.median(cpu):.0f}), best "
            f"{min(times):.0f} ms ({min(cpu):.0f}); module import median "
            f"{statistics.median(imports):.0f} ms"
        )

    queries = make_queries(DATA, args.queries)
    points = make_points(args.points)
    for name, (module_path, data) in versions.items():
        implementation = load_module(module_path, f"_bench_{name}")
        gazetteer = implementation.Gazetteer.load(data)
        gazetteer.search("Харків")  # warm-up
        gc.collect()
        searches = time_calls(gazetteer.search, queries)
        nearest = time_calls(gazetteer.nearest, points)
        found = sum(1 for q in queries if gazetteer.search(q))
        print(
            f"[{name}] search ({len(queries)} queries, {found} with results): {summary(searches)}"
        )
        print(f"[{name}] nearest ({len(points)} points): {summary(nearest)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
