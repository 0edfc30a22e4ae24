"""The ``aifedge`` console command.

Errors in user input print one line ``aifedge: error: ...`` and exit with code 2;
nothing is written to ``--out`` unless the run succeeds (files are renamed into
place only when complete).
"""

import argparse
import sys
import time
from pathlib import Path

from aifedge.config import ConfigError, load_overrides

DEMO_POLICIES = ("random", "round-robin", "edge", "cloud", "greedy")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"aifedge: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _env_params(args):
    from aifedge.environments import ENVS

    if args.env not in ENVS:
        raise ConfigError(f"--env: unknown environment {args.env!r}; choose from {', '.join(ENVS)}")
    overrides = load_overrides(args.config) if args.config else {}
    if args.steps is not None:
        overrides["max_steps"] = args.steps
    return ENVS[args.env].make_params(**overrides)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} exists and is not a folder; pass a folder path")


def _print_table(summary, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("policy")
    for col in ("QoS %", "latency ms", "TCR %", "failure %"):
        table.add_column(col, justify="right")
    for row in summary.itertuples():
        table.add_row(
            row.policy,
            f"{100 * row.qos_mean:.2f} ± {100 * row.qos_std:.2f}",
            f"{row.latency_ms_mean:.1f} ± {row.latency_ms_std:.1f}",
            f"{100 * row.tcr_mean:.2f} ± {100 * row.tcr_std:.2f}",
            f"{100 * row.failure_rate_mean:.2f}",
        )
    Console().print(table)


def _run_policies(args, policies) -> None:
    import pandas as pd

    from aifedge import results
    from aifedge.registry import policy_names
    from aifedge.simulate import simulate, summarise

    params = _env_params(args)
    for name in policies:  # validate every name before running anything
        if name not in policy_names(args.env):
            raise ConfigError(f"--policy: unknown policy {name!r}; "
                              f"choose from {', '.join(policy_names(args.env))}")
    out = Path(args.out)
    _check_out(out)
    start = time.perf_counter()
    frame = pd.concat([simulate(args.env, name, args.episodes, args.seed, params)
                       for name in policies], ignore_index=True)
    summary = summarise(frame)
    record = {
        "commit": results.git_commit(), "seed": args.seed, "env": args.env,
        "policies": list(policies), "episodes": args.episodes, "steps": params.max_steps,
        "config": params._asdict(), "versions": results.versions(),
        "wall_s": time.perf_counter() - start,
        "summary": {row.policy: {m: getattr(row, f"{m}_mean") for m in
                                 ("qos", "latency_ms", "tcr", "violation_risk", "failure_rate")}
                    for row in summary.itertuples()},
    }
    if len(policies) == 1:
        record["policy"] = policies[0]
        record["summary"] = record["summary"][policies[0]]
    results.write_csv(out / "metrics.csv", frame)
    results.write_csv(out / "summary.csv", summary)
    results.write_json(out / "summary.json", record)
    _print_table(summary, f"{args.env}: {args.episodes} episodes × {params.max_steps} steps, "
                          f"seed {args.seed}")
    print(f"wrote {out / 'metrics.csv'}, {out / 'summary.csv'}, {out / 'summary.json'}")


def cmd_list(args) -> None:
    from aifedge.bench import BENCHMARKS
    from aifedge.environments import ENVS
    from aifedge.registry import ARTIFACTS, policy_names

    print("environments:", ", ".join(ENVS))
    print("policies:    ", ", ".join(policy_names()))
    print("benchmarks:  ", ", ".join(BENCHMARKS))
    print("artifacts:   ", ", ".join(ARTIFACTS) or "(none yet)")


def cmd_simulate(args) -> None:
    _run_policies(args, [args.policy])


def cmd_compare(args) -> None:
    _run_policies(args, [p.strip() for p in args.policies.split(",") if p.strip()])


def cmd_bench(args) -> None:
    from aifedge import bench, results

    rows = bench.run_benchmark(args.what, repeats=args.repeats)
    payload = {"benchmark": args.what, "machine": bench.machine(), "commit": results.git_commit(),
               "versions": results.versions(), "rows": rows}
    for row in rows:
        extra = f"  {row['steps_per_s']:.3g} steps/s" if "steps_per_s" in row else ""
        print(f"{row['name']:<24} median {row['median_s'] * 1e3:9.3f} ms{extra}")
    if args.json:
        results.write_json(args.json, payload)
        print(f"wrote {args.json}")


def cmd_repro(args) -> None:
    from aifedge.paper_repro.common import to_markdown, with_overrides, write_artifact
    from aifedge.registry import ARTIFACTS, load

    if args.name not in ARTIFACTS:
        raise ConfigError(f"NAME: unknown artifact {args.name!r}; choose from "
                          f"{', '.join(ARTIFACTS) or '(none registered yet)'}")
    art = load(ARTIFACTS[args.name])
    cfg = art.quick if args.quick else art.full
    try:
        cfg = with_overrides(cfg, seeds=args.seeds)
    except ValueError as err:
        raise ConfigError(f"--seeds: {err}") from None
    out = Path(args.out)
    _check_out(out)
    start = time.perf_counter()
    frame = art.run(cfg)
    paths = write_artifact(art, frame, cfg, out, time.perf_counter() - start,
                           note="quick mode (reduced budget)" if args.quick else "")
    print(f"{art.title}\n")
    print(to_markdown(frame))
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def _add_sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="aif-llm", help="environment id (see `aifedge list`)")
    p.add_argument("--episodes", type=_positive_int, default=20, help="episodes per policy")
    p.add_argument("--steps", type=_positive_int, default=None,
                   help="steps per episode (default: the env's max_steps, 100)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed; same seed, same bytes")
    p.add_argument("--config", default=None,
                   help="JSON/TOML file of simulator parameter overrides (EnvParams fields)")
    p.add_argument("--out", default="results/simulate", help="output folder")


def build_parser() -> argparse.ArgumentParser:
    from aifedge.bench import BENCHMARKS

    parser = _Parser(prog="aifedge", description=__doc__.splitlines()[0] + " "
                     "Active inference for cloud-edge scheduling; see README.md.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list environments, policies and benchmarks")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("simulate", help="run one policy for N episodes and write metrics")
    _add_sim_args(p)
    p.add_argument("--policy", required=True, help="policy name (see `aifedge list`)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("compare", help="run several policies on the same seeds (make demo)")
    _add_sim_args(p)
    p.add_argument("--policies", default=",".join(DEMO_POLICIES),
                   help="comma-separated policy names")
    p.set_defaults(func=cmd_compare, out="results/demo")

    p = sub.add_parser("repro", help="reproduce one paper table/figure (see `aifedge list`)")
    p.add_argument("name", help="artifact name, e.g. table3")
    p.add_argument("--quick", action="store_true", help="reduced budget (stated in the output)")
    p.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds")
    p.add_argument("--out", default="results/repro", help="output folder")
    p.set_defaults(func=cmd_repro)

    p = sub.add_parser("bench", help="speed benchmarks, written as JSON rows")
    p.add_argument("what", choices=list(BENCHMARKS), help="what to measure")
    p.add_argument("--json", default=None, help="write the rows to this JSON file")
    p.add_argument("--repeats", type=_positive_int, default=10, help="timed calls after warm-up")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigError as err:
        print(f"aifedge: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
