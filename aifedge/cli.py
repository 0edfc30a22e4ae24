"""The ``aifedge`` console command.

Errors in user input print one line ``aifedge: error: ...`` and exit with code 2;
nothing is written to ``--out`` unless the run succeeds. A run folder is one
transaction (``aifedge.results.run_folder``): staged beside ``--out`` and swapped into
place when complete; an existing non-empty ``--out`` is refused unless ``--force``
(which replaces it whole), and two runs cannot write one ``--out`` at once.
"""

import argparse
import sys
import time
from pathlib import Path

from aifedge.config import ConfigError, load_overrides, sync_dispatch
from aifedge.console import FORMATS
from aifedge.registry import ABLATIONS, ADVISORS, RL_ALGOS, check_ablate

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


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2^32 − 1] (got {value})")
    return value


STEPS_FIELD = {"aif-llm": "max_steps", "he2024": "n_tasks", "ucb-coma": "max_steps"}
"""The ``EnvParams`` field ``--steps`` sets, per environment."""


def _env_params(args, any_env: bool = False):
    """``EnvParams`` of ``--env`` with ``--config`` and ``--steps``; ``any_env=False``
    (train, logs) accepts only aif-llm."""
    from aifedge.environments import ENVS

    if args.env not in ENVS:
        raise ConfigError(f"--env: unknown environment {args.env!r}; choose from {', '.join(ENVS)}")
    if args.env != "aif-llm" and not any_env:
        raise ConfigError(
            f"--env: `aifedge {args.command}` runs on aif-llm; {args.env!r} runs through "
            "`aifedge simulate`, `compare` and `repro` (see `aifedge list`)"
        )
    overrides = load_overrides(args.config) if args.config else {}
    if args.steps is not None:
        overrides[STEPS_FIELD[args.env]] = args.steps
    scenario = getattr(args, "scenario", "v1")
    if scenario != "v1":
        from aifedge.environments import SCENARIOS

        if args.env != "aif-llm" or args.command not in ("simulate", "compare", "train"):
            raise ConfigError(
                f"--scenario {scenario}: applies to aif-llm in simulate, compare and train "
                f"(not {args.env!r} in `aifedge {args.command}`); drop --scenario"
            )
        return SCENARIOS[scenario].make_params(**overrides)
    return ENVS[args.env].make_params(**overrides)


def _out_folder(args):
    """The run-folder transaction of ``--out`` (checked now, before any computation)."""
    from aifedge import results

    return results.run_folder(args.out, force=args.force)


def _print_summary(summary, title: str, fmt: str, env_id: str) -> None:
    import pandas as pd

    from aifedge.console import print_table

    if env_id != "aif-llm":  # every metric as mean ± std
        metrics = [c.removesuffix("_mean") for c in summary.columns if c.endswith("_mean")]
        table = pd.DataFrame({"policy": summary.policy})
        for m in metrics:
            table[m] = [
                f"{a:.4g} ± {b:.2g}"
                for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"], strict=True)
            ]
        print_table(table, title, fmt)
        return
    table = pd.DataFrame(
        {
            "policy": summary.policy,
            "QoS %": [
                f"{100 * m:.2f} ± {100 * s:.2f}"
                for m, s in zip(summary.qos_mean, summary.qos_std, strict=True)
            ],
            "latency ms": [
                f"{m:.1f} ± {s:.1f}"
                for m, s in zip(summary.latency_ms_mean, summary.latency_ms_std, strict=True)
            ],
            "TCR %": [
                f"{100 * m:.2f} ± {100 * s:.2f}"
                for m, s in zip(summary.tcr_mean, summary.tcr_std, strict=True)
            ],
            "failure %": [f"{100 * m:.2f}" for m in summary.failure_rate_mean],
        }
    )
    print_table(table, title, fmt)


def _special_policy(name: str, args, params, ablate: tuple[str, ...]):
    """A ``Policy`` the registry cannot build from a name alone, else None."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None:
        if name not in RL_ALGOS:
            raise ConfigError(
                f"--checkpoint: only for RL policies ({', '.join(RL_ALGOS)}), not {name!r}"
            )
        try:
            from aifedge.baselines import rl
        except ImportError:
            raise ConfigError(
                "--checkpoint: needs the [rl] extra: pip install 'aifedge[rl]'"
            ) from None
        return rl.checkpoint_policy(checkpoint, params, algo=name)
    if name in RL_ALGOS:
        raise ConfigError(
            f"--policy {name}: an RL policy needs --checkpoint PATH "
            f"(train one with `aifedge train --algo {name}`)"
        )
    if ablate:
        if name != "aif-llm":
            raise ConfigError(f"--ablate: only applies to --policy aif-llm, not {name!r}")
        from aifedge.registry import AGENTS, load

        return load(AGENTS["aif-llm"])(params, ablate=ablate)
    return None


def _advisor_options(args) -> dict:
    if args.advisor == "http":
        if not args.llm_url:
            raise ConfigError(
                "--llm-url: the http advisor needs an OpenAI-compatible endpoint, "
                "e.g. --llm-url http://127.0.0.1:8080/v1"
            )
        return {
            "url": args.llm_url,
            "model": args.llm_model,
            "timeout_s": args.llm_timeout,
            "allow_insecure_token": args.allow_insecure_token,
        }
    return {}


def _run_policies(args, policies, stage: Path) -> None:
    import pandas as pd

    from aifedge import results
    from aifedge.simulate import policy_names, simulate, summarise

    params = _env_params(args, any_env=True)
    ablate = check_ablate(getattr(args, "ablate", None))
    rl_names = RL_ALGOS if args.env == "aif-llm" else ()
    for name in policies:  # validate every name before running anything
        if name not in (*policy_names(args.env), *rl_names):
            raise ConfigError(
                f"--policy: unknown policy {name!r}; "
                f"choose from {', '.join(policy_names(args.env))} "
                f"(RL with --checkpoint: {', '.join(RL_ALGOS)})"
            )
    if not policies:
        raise ConfigError("--policies: name at least one policy, e.g. random,greedy")
    from aifedge.simulate import check_memory

    check_memory(args.episodes, params.max_steps, len(policies))
    advisor = getattr(args, "advisor", "template")
    if advisor != "template" and policies != ["aif-llm"]:
        raise ConfigError(f"--advisor {advisor}: only --policy aif-llm consults an LLM advisor")
    out = Path(args.out)
    start = time.perf_counter()
    advisor_stats = None
    if advisor != "template":
        from aifedge.inference.aif_llm_advised import run_advised

        frame, advisor_stats = run_advised(
            params,
            args.episodes,
            args.seed,
            advisor,
            ablate=ablate,
            advisor_options=_advisor_options(args),
        )
        frame = frame.assign(policy="aif-llm")
    else:
        frame = pd.concat(
            [
                simulate(
                    args.env,
                    name,
                    args.episodes,
                    args.seed,
                    params,
                    policy=_special_policy(name, args, params, ablate),
                )
                for name in policies
            ],
            ignore_index=True,
        )
    summary = summarise(frame)
    record = {
        **results.provenance(),
        "seed": args.seed,
        "env": args.env,
        "scenario": getattr(args, "scenario", "v1"),
        "policies": list(policies),
        "episodes": args.episodes,
        "steps": params.max_steps,
        "config": params._asdict(),
        "wall_s": time.perf_counter() - start,
        "summary": {
            row["policy"]: {
                k.removesuffix("_mean"): v for k, v in row.items() if k.endswith("_mean")
            }
            for row in summary.to_dict("records")
        },
    }
    if advisor_stats is not None:
        record["advisor"] = {"name": advisor, **advisor_stats}
    if getattr(args, "ablate", None):
        record["ablate"] = list(ablate)
    if len(policies) == 1:
        record["policy"] = policies[0]
        record["summary"] = record["summary"][policies[0]]
    results.write_csv(stage / "metrics.csv", frame)
    results.write_csv(stage / "summary.csv", summary)
    results.write_json(stage / "summary.json", record)
    _print_summary(
        summary,
        f"{args.env}: {args.episodes} episodes × {params.max_steps} steps, seed {args.seed}",
        args.format,
        args.env,
    )
    print(f"wrote {out / 'metrics.csv'}, {out / 'summary.csv'}, {out / 'summary.json'}")


def cmd_list(args) -> None:
    import pandas as pd

    from aifedge.console import print_table
    from aifedge.environments import ENVS
    from aifedge.registry import (
        ABLATIONS,
        ADVISORS,
        ARTIFACTS,
        BENCHMARKS,
        HE2024_LEARNED,
        SUITES,
    )
    from aifedge.simulate import policy_names

    rows = [
        ("environments", "", ", ".join(ENVS)),
        *((f"policies ({env})", "simulate, compare", ", ".join(policy_names(env))) for env in ENVS),
        ("RL algorithms (aif-llm)", "train; simulate --checkpoint", ", ".join(RL_ALGOS)),
        ("He et al. methods (he2024)", "repro he2024-fig3/4/5", ", ".join(HE2024_LEARNED)),
        ("scenarios (aif-llm)", "simulate, compare, train --scenario", "v1, paper"),
        ("ablations (aif-llm)", "simulate --ablate", ", ".join(ABLATIONS)),
        ("LLM advisors (aif-llm)", "simulate --advisor", ", ".join(ADVISORS)),
        ("suites (a paper's artifacts, shared runs)", "repro", ", ".join(SUITES)),
        ("artifacts", "repro", ", ".join(ARTIFACTS)),
        ("benchmarks", "bench", ", ".join(BENCHMARKS)),
    ]
    print_table(pd.DataFrame(rows, columns=["what", "command", "names"]), fmt=args.format)


def cmd_simulate(args) -> None:
    with _out_folder(args) as stage:
        _run_policies(args, [args.policy], stage)


def cmd_compare(args) -> None:
    with _out_folder(args) as stage:
        _run_policies(args, [p.strip() for p in args.policies.split(",") if p.strip()], stage)


def cmd_bench(args) -> None:
    from aifedge import bench, results

    if args.json:
        results.check_writable_file(args.json, "--json")
    rows = bench.run_benchmark(args.what, repeats=args.repeats)
    payload = {
        "benchmark": args.what,
        "machine": bench.machine(),
        **results.provenance(),
        "rows": rows,
    }
    for row in rows:
        extra = f"  {row['steps_per_s']:.3g} steps/s" if "steps_per_s" in row else ""
        extra += f"  speed-up {row['speedup']:.2f}×" if "speedup" in row else ""
        print(f"{row['name']:<24} median {row['median_s'] * 1e3:9.3f} ms{extra}")
    if args.json:
        results.write_json(args.json, payload)
        print(f"wrote {args.json}")


def _repro_overrides(args) -> dict:
    """The config fields of ``--config FILE`` and ``--seeds``."""
    overrides = load_overrides(args.config) if args.config else {}
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    return overrides


def _repro_config(base, args):
    """``base`` with the fields of ``--config FILE`` and ``--seeds`` replaced."""
    from aifedge.paper_repro.common import with_overrides

    try:
        return with_overrides(base, **_repro_overrides(args))
    except ValueError as err:
        raise ConfigError(f"{'--config' if args.config else '--seeds'}: {err}") from None


def _store(args) -> None:
    """``--store DIR``: copy the small files of the finished ``--out`` there, each atomically."""
    import shutil

    from aifedge import results

    if args.store is None:
        return
    for path in sorted(Path(args.out).iterdir()):
        if path.is_file() and not path.name.endswith("_data.csv"):
            with results.atomic_path(Path(args.store) / path.name) as tmp:
                shutil.copyfile(path, tmp)
    print(f"stored the small files in {args.store}")


def cmd_repro(args) -> None:
    from aifedge import executor, results

    if args.store is not None:
        results.check_writable_file(Path(args.store) / "SUMMARY.md", "--store")
    with executor.using(executor.make_executor(args.ray)), executor.caching(args.resume):
        _cmd_repro(args)


def _cmd_repro(args) -> None:
    from aifedge.console import print_table
    from aifedge.paper_repro.common import write_artifact
    from aifedge.registry import ARTIFACTS, SUITES, load

    if args.name in SUITES:
        with _out_folder(args) as stage:  # a bad config field: ConfigError before any run
            load(SUITES[args.name])(_repro_overrides(args), stage, quick=args.quick)
        _store(args)
        print(f"wrote {args.out}")
        return
    if args.name not in ARTIFACTS:
        raise ConfigError(
            f"NAME: unknown artifact {args.name!r}; choose a suite ({', '.join(SUITES)}) "
            f"or an artifact ({', '.join(ARTIFACTS)})"
        )
    art = load(ARTIFACTS[args.name])
    cfg = _repro_config(art.quick if args.quick else art.full, args)
    out = Path(args.out)
    with _out_folder(args) as stage:
        start = time.perf_counter()
        frame = art.run(cfg)
        paths = write_artifact(
            art,
            frame,
            cfg,
            stage,
            time.perf_counter() - start,
            note="quick mode (reduced budget)" if args.quick else "",
        )
    print_table(frame, art.title, args.format)
    print("wrote " + ", ".join(str(out / p.name) for p in paths.values()))
    _store(args)


def cmd_sweep(args) -> None:
    from aifedge import executor, sweep

    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    cfg = sweep.SweepConfig(
        env=args.env,
        policies=policies,
        grid=sweep.parse_grid(args.grid, args.env),
        seeds=args.seeds,
        episodes=args.episodes,
        base_seed=args.seed,
        claims=tuple(sweep.parse_claim(c, policies) for c in args.claim),
    )
    sweep.validate(cfg)
    with _out_folder(args) as stage, executor.using(executor.make_executor(args.ray)):
        paths = sweep.sweep(cfg, stage)
    print("wrote " + ", ".join(str(Path(args.out) / p.name) for p in paths))


def cmd_train(args) -> None:
    try:
        from aifedge.baselines import rl
    except ImportError:
        raise ConfigError("train: needs the [rl] extra: pip install 'aifedge[rl]'") from None
    from aifedge.environments.gym_wrapper import AifLlmEnv

    params = _env_params(args)
    overrides = load_overrides(args.rl_config) if args.rl_config else {}
    if args.train_steps is not None:
        overrides["steps"] = args.train_steps
    cfg = rl.make_config(args.algo, **overrides)
    out = Path(args.out)
    with _out_folder(args) as stage:
        res = rl.train(args.algo, lambda: AifLlmEnv(params), cfg, seed=args.seed, out_dir=stage)
    assert res.checkpoint is not None  # train() with out_dir always writes one
    print(
        f"wrote {out / res.checkpoint.name}, {out / 'curve.csv'}, {out / 'config.json'} "
        f"({res.env_steps} env steps, {res.wall_s:.0f} s)"
    )


def cmd_train_meta(args) -> None:
    import dataclasses

    from aifedge import results
    from aifedge.inference import meta_train

    out = Path(args.out)
    results.check_writable_file(out)
    meta = meta_train.default_meta_config()
    if args.meta_steps is not None:
        meta = dataclasses.replace(meta, meta_steps=args.meta_steps)
    path = meta_train.train_meta(meta_train.MetaTrainConfig(meta=meta), out, args.seed)
    print(f"wrote {path} and {path}.json")
    if args.evaluate:
        import json

        summary = meta_train.compare_meta(meta_train.evaluate_meta(path))
        print(json.dumps(summary, indent=2))


def cmd_logs(args) -> None:
    from aifedge.baselines import HEURISTICS
    from aifedge.llm_bridge.logs import make_logs, save_logs
    from aifedge.llm_bridge.prior import KeywordPrior
    from aifedge.simulate import policy_names

    params = _env_params(args)
    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    for name in policies:
        if name not in HEURISTICS:
            raise ConfigError(
                f"--policies: {name!r} is not a heuristic; logs are made with "
                f"{', '.join(HEURISTICS)} (all policies: "
                f"{', '.join(policy_names())})"
            )
    if Path(args.out).suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--out: {args.out!r} needs a .csv or .parquet suffix")
    from aifedge import results
    from aifedge.simulate import check_memory

    check_memory(args.episodes, params.max_steps, len(policies), chunk=args.episodes)  # unchunked
    results.check_writable_file(args.out)
    if args.prior_out:
        results.check_writable_file(args.prior_out, "--prior-out")
    logs = make_logs(params, policies=policies, episodes=args.episodes, seed=args.seed)
    print(f"wrote {save_logs(logs, args.out)} ({len(logs)} tasks)")
    if args.prior_out:
        print(f"wrote {KeywordPrior.fit(logs).save(args.prior_out)}")


def _add_sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="aif-llm", help="environment id (see `aifedge list`)")
    p.add_argument("--episodes", type=_positive_int, default=20, help="episodes per policy")
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="steps per episode (default: the env's max_steps, 100)",
    )
    p.add_argument(
        "--seed", type=_seed, default=0, help="PRNG seed in [0, 2^32); same seed, same bytes"
    )
    p.add_argument(
        "--config",
        default=None,
        help="JSON/TOML file of simulator parameter overrides (EnvParams fields)",
    )
    p.add_argument(
        "--scenario",
        default="v1",
        choices=("v1", "paper"),
        help="aif-llm simulator: v1 (default until the paper calibration is frozen) or "
        "paper (issue #17: bursty multi-task slots, failures, shared uplink)",
    )
    p.add_argument("--out", default="results/simulate", help="output folder")
    _add_force(p)


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing non-empty --out folder (default: refuse)",
    )


def _add_ray_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run the jobs on Ray (needs [cluster]): HOST:PORT of `ray start --head`, auto, "
        "local or local:N (N CPUs); bare --ray: $RAY_ADDRESS, else local. Results are "
        "identical to a serial run",
    )


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="result table: rich on a terminal, Markdown when piped (auto), or as given",
    )


def build_parser() -> argparse.ArgumentParser:
    from aifedge.registry import BENCHMARKS

    parser = _Parser(
        prog="aifedge",
        description=__doc__.splitlines()[0] + " "
        "Active inference for cloud-edge scheduling; see README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "list", help="list environments, policies, learners, algorithms, artifacts, benchmarks"
    )
    _add_format(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("simulate", help="run one policy for N episodes and write metrics")
    _add_sim_args(p)
    _add_format(p)
    p.add_argument("--policy", required=True, help="policy name (see `aifedge list`)")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="policy.pt (or its folder) of an RL policy from `aifedge train`",
    )
    p.add_argument(
        "--ablate",
        default=None,
        help=f"aif-llm only: components to remove, any of {', '.join(ABLATIONS)}",
    )
    p.add_argument(
        "--advisor",
        default="template",
        choices=ADVISORS,
        help="aif-llm only: LLM advisor (template: rule-based, batched; smollm: "
        "embedded SmolLM2-135M; http: OpenAI-compatible endpoint), asynchronous",
    )
    p.add_argument(
        "--llm-url",
        default=None,
        help="http advisor: base URL, e.g. "
        "http://127.0.0.1:8080/v1 (API key from $AIFEDGE_LLM_API_KEY)",
    )
    p.add_argument("--llm-model", default="llama-3-8b-instruct", help="http advisor: model name")
    p.add_argument(
        "--llm-timeout",
        type=float,
        default=10.0,
        help="http advisor: deadline of one call (connect + answer), seconds",
    )
    p.add_argument(
        "--allow-insecure-token",
        action="store_true",
        help="http advisor: send $AIFEDGE_LLM_API_KEY over plain http (default: https only)",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("compare", help="run several policies on the same seeds (make demo)")
    _add_sim_args(p)
    _add_format(p)
    p.add_argument(
        "--policies", default=",".join(DEMO_POLICIES), help="comma-separated policy names"
    )
    p.set_defaults(func=cmd_compare, out="results/demo")

    p = sub.add_parser("train", help="train a deep-RL baseline on aif-llm (needs [rl])")
    _add_sim_args(p)
    p.add_argument("--algo", required=True, choices=RL_ALGOS, help="algorithm")
    p.add_argument(
        "--train-steps",
        type=_positive_int,
        default=None,
        help="training env steps (default: the algorithm config's, 100k)",
    )
    p.add_argument(
        "--rl-config", default=None, help="JSON/TOML overrides of the algorithm's config fields"
    )
    p.set_defaults(func=cmd_train, out="results/train")

    p = sub.add_parser(
        "train-meta", help="meta-train f_meta of AIF-LLM Eq. 7 (λ_t) on the simulator"
    )
    p.add_argument("--out", default="results/meta_lambda.eqx", help="checkpoint file")
    p.add_argument("--seed", type=_seed, default=100, help="training seed (held-out: 20000)")
    p.add_argument(
        "--meta-steps",
        type=_positive_int,
        default=None,
        help="outer meta-steps (default: the shipped checkpoint's, 40)",
    )
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="then compare adapted λ with the best fixed λ on held-out conditions",
    )
    p.set_defaults(func=cmd_train_meta)

    p = sub.add_parser(
        "logs", help="scheduling logs (task text, state, node, outcome) for the keyword prior"
    )
    _add_sim_args(p)
    p.add_argument(
        "--policies",
        default="random,round-robin,greedy,cloud,edge",
        help="heuristics that make the logs",
    )
    p.add_argument("--prior-out", default=None, help="also fit the keyword prior, save as JSON")
    p.set_defaults(func=cmd_logs, out="results/logs.csv")

    p = sub.add_parser(
        "repro", help="reproduce one paper table/figure, or a paper's suite (see `aifedge list`)"
    )
    p.add_argument(
        "name",
        help="artifact name (e.g. table3), or a suite: all (AIF-LLM), he2024, ucbcoma — every "
        "artifact of that paper from shared training runs",
    )
    p.add_argument("--quick", action="store_true", help="reduced budget (stated in the output)")
    p.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds")
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="JSON/TOML file replacing fields of the artifact's config "
        "(e.g. paper_repro/configs/he2024_medium.toml)",
    )
    p.add_argument("--out", default="results/repro", help="output folder")
    p.add_argument(
        "--store",
        default=None,
        metavar="DIR",
        help="also copy the small files (all but *_data.csv) here, e.g. paper_repro/results/…",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="DIR",
        help="store each finished job's result in DIR and reuse the stored ones "
        "(same job, kwargs and code): rerun the same command to resume an interrupted run",
    )
    _add_force(p)
    _add_format(p)
    _add_ray_arg(p)
    p.set_defaults(func=cmd_repro)

    p = sub.add_parser(
        "sweep", help="every grid point × policy × seed; CSVs, plots and claim maps (--ray)"
    )
    p.add_argument("--env", default="aif-llm", help="environment (sweeps: aif-llm)")
    p.add_argument("--policies", required=True, help="comma-separated policy names")
    p.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="FIELD=V1,V2",
        help="an EnvParams field and its values (repeat for a 2-D grid)",
    )
    p.add_argument("--seeds", type=_positive_int, default=3, help="runs per grid point and policy")
    p.add_argument("--episodes", type=_positive_int, default=20, help="episodes per run")
    p.add_argument("--seed", type=_seed, default=0, help="first seed (runs use seed .. seed+N−1)")
    p.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="METRIC:A>B",
        help="claim tested per cell (Welch p), e.g. qos:aif>greedy or latency_ms:aif<greedy",
    )
    p.add_argument("--out", default="results/sweep", help="output folder")
    _add_force(p)
    _add_ray_arg(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("bench", help="speed benchmarks, written as JSON rows")
    p.add_argument("what", choices=list(BENCHMARKS), help="what to measure")
    p.add_argument("--json", default=None, help="write the rows to this JSON file")
    p.add_argument("--repeats", type=_positive_int, default=10, help="timed calls after warm-up")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sync_dispatch()
    try:
        args.func(args)
    except ConfigError as err:
        print(f"aifedge: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
