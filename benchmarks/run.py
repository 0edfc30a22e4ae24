"""Run every ``aifedge bench`` benchmark; write JSON rows and a Markdown table.

Usage: ``python benchmarks/run.py [--out results/bench] [--repeats 10]`` (``make bench``).
It measures with synchronous JAX CPU dispatch, as the ``aifedge`` command runs
(``AIFEDGE_ASYNC_DISPATCH=1 make bench`` for JAX's default; ``config.sync_dispatch``).
The README's speed table is copied from ``bench.md`` together with its machine line.
"""

import argparse

from aifedge import bench, results
from aifedge.config import sync_dispatch
from aifedge.registry import BENCHMARKS


def markdown(payload: dict) -> str:
    m = payload["machine"]
    dispatch = "async" if m.get("jax_cpu_async_dispatch", True) else "sync"
    lines = [
        f"Machine: {m['processor']}, {m['cpus']} CPUs, {m['platform']}, "
        f"JAX backend {m['jax_backend']} ({dispatch} CPU dispatch); "
        f"commit {payload['commit'][:10]}",
        "",
        "| benchmark | name | median ms | p95 ms | steps/s |",
        "|---|---|---:|---:|---:|",
    ]
    for what, rows in payload["benchmarks"].items():
        for r in rows:
            rate = f"{r['steps_per_s']:.3g}" if "steps_per_s" in r else ""
            lines.append(
                f"| {what} | {r['name']} | {r['median_s'] * 1e3:.3f} | "
                f"{r['p95_s'] * 1e3:.3f} | {rate} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench", help="output folder")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls after warm-up")
    args = parser.parse_args()
    sync_dispatch()
    payload = {
        "machine": bench.machine(),
        "commit": results.git_commit(),
        "versions": results.versions(),
        "benchmarks": {
            name: bench.run_benchmark(name, repeats=args.repeats) for name in BENCHMARKS
        },
    }
    results.write_json(f"{args.out}/bench.json", payload)
    table = markdown(payload)
    results.write_text_atomic(f"{args.out}/bench.md", table)
    print(table)


if __name__ == "__main__":
    main()
