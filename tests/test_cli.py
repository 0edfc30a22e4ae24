"""The aifedge command: outputs, determinism and error paths."""

import json
from pathlib import Path

import pytest

from aifedge.cli import main
from aifedge.config import load_overrides
from aifedge.llm_bridge.prior import KeywordPrior
from aifedge.paper_repro import he2024
from aifedge.paper_repro.common import with_overrides


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        code = main(args)
        raise SystemExit(code)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_help_for_every_subcommand(capsys):
    for sub in (
        [],
        ["list"],
        ["simulate"],
        ["compare"],
        ["bench"],
        ["repro"],
        ["train"],
        ["train-meta"],
        ["logs"],
        ["sweep"],
    ):
        code, out, _ = _run([*sub, "--help"], capsys)
        assert code == 0 and "usage: aifedge" in out


def test_list_names_every_env_policy_learner_algorithm_artifact_and_benchmark(capsys):
    from aifedge.baselines.marl import LEARNERS
    from aifedge.environments import ENVS
    from aifedge.registry import ABLATIONS, ADVISORS, ARTIFACTS, BENCHMARKS, RL_ALGOS, SUITES
    from aifedge.simulate import policy_names

    code, out, _ = _run(["list", "--format", "markdown"], capsys)
    rows = [line.split("|")[-2] for line in out.splitlines() if line.startswith("| ")]
    names = {n.strip() for row in rows for n in row.split(",")}
    registered = {
        *ENVS,
        *(p for env in ENVS for p in policy_names(env)),
        *LEARNERS,
        *RL_ALGOS,
        *he2024.LEARNED,
        *ABLATIONS,
        *ADVISORS,
        *ARTIFACTS,
        *SUITES,
        *BENCHMARKS,
    }
    assert code == 0 and registered <= names, registered - names


@pytest.mark.slow
def test_he2024_episodes_match_the_env_rollout_on_the_same_keys(tmp_path, capsys):
    """compare --env he2024: episode i is he2024.rollout on split(PRNGKey(seed), n)[i]."""
    import jax
    import pandas as pd

    from aifedge.baselines.heuristics import he_greedy
    from aifedge.environments import he2024 as env

    args = ["compare", "--env", "he2024", "--policies", "he-greedy,random", "--episodes", "2"]
    assert _run([*args, "--seed", "5", "--out", str(tmp_path)], capsys)[0] == 0
    frame = pd.read_csv(tmp_path / "metrics.csv")
    params = env.make_params()
    for i, key in enumerate(jax.random.split(jax.random.PRNGKey(5), 2)):
        ref = env.episode_metrics(env.rollout(key, he_greedy, params)[3])
        row = frame[(frame.policy == "he-greedy") & (frame.episode == i)].iloc[0]
        assert row.tcr == pytest.approx(float(ref["tcr"]))
        assert row.sum_reward == pytest.approx(float(ref["sum_reward"]), rel=1e-6)
    assert (frame[frame.policy == "he-greedy"].tcr == 1.0).all()  # the reference rule fits
    assert (frame[frame.policy == "random"].tcr < 1.0).all()


@pytest.mark.slow
def test_ucb_coma_learners_run_through_compare(tmp_path, capsys):
    """ready-cloud completes every task and scores the ceiling θ·#sub-tasks − objective."""
    args = ["compare", "--env", "ucb-coma", "--policies", "ready-cloud,random"]
    assert _run([*args, "--episodes", "3", "--out", str(tmp_path)], capsys)[0] == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]
    ceiling = summary["ready-cloud"]
    assert ceiling["completion"] == 1.0
    assert ceiling["reward"] == pytest.approx(ceiling["r_theta"] + ceiling["r_objective"])
    assert summary["random"]["completion"] < 1.0
    assert summary["random"]["reward"] < ceiling["reward"]


@pytest.mark.slow
def test_simulate_writes_metrics_and_is_byte_identical(tmp_path, capsys):
    args = ["simulate", "--policy", "greedy", "--episodes", "3", "--steps", "20", "--seed", "7"]
    assert _run([*args, "--out", str(tmp_path / "a")], capsys)[0] == 0
    assert _run([*args, "--out", str(tmp_path / "b")], capsys)[0] == 0
    a, b = (tmp_path / d / "metrics.csv" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_text().strip().splitlines()) == 1 + 3
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert {"commit", "seed", "config", "versions", "summary"} <= set(summary)
    assert {"qos", "latency_ms", "tcr", "failure_rate"} <= set(summary["summary"])
    assert summary["seed"] == 7 and summary["config"]["max_steps"] == 20
    other = ["simulate", "--policy", "greedy", "--episodes", "3", "--steps", "20", "--seed", "8"]
    assert _run([*other, "--out", str(tmp_path / "c")], capsys)[0] == 0
    assert (tmp_path / "c" / "metrics.csv").read_bytes() != a.read_bytes()


@pytest.mark.parametrize(
    ("extra", "config", "needle"),
    [
        (["--policy", "nope"], None, "--policy"),
        (["--policy", "greedy", "--episodes", "-3"], None, "--episodes"),
        (["--policy", "greedy", "--env", "mars"], None, "--env"),
        (["--policy", "greedy"], {"edge_gflopz": [1, 2]}, "edge_gflopz"),
        (["--policy", "greedy"], {"deadline_ms": [300, 0, 1500, 4000]}, "deadline_ms"),
        (["--policy", "greedy"], {"cloud_gflops": -5}, "cloud_gflops"),
        (["--policy", "greedy", "--config", "missing.toml"], None, "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, extra, config, needle):
    out = tmp_path / "out"
    args = [
        "simulate",
        *extra,
        "--episodes" if "--episodes" not in extra else "--seed",
        "2",
        "--out",
        str(out),
    ]
    if config is not None:
        cfg = tmp_path / "cfg.json"
        cfg.write_text(json.dumps(config))
        args += ["--config", str(cfg)]
    code, _, err = _run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aifedge: error:") and needle in lines[0]
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.slow
def test_bench_env_writes_json_rows(tmp_path, capsys):
    from aifedge.bench.env import bench_env

    rows = bench_env(batch=8, steps=10, repeats=2)
    assert {r["name"] for r in rows} == {
        "env_single",
        "env_batched_8",
        "env_single_paper",
        "env_batched_8_paper",
    }
    assert all(r["median_s"] > 0 and r["steps_per_s"] > 0 for r in rows)


@pytest.mark.parametrize(
    "args, field",
    [
        (["simulate", "--policy", "aif", "--ablate", "prior"], "--ablate"),
        (["simulate", "--policy", "aif-llm", "--ablate", "memory"], "--ablate"),
        (["simulate", "--policy", "dqn"], "--policy dqn"),
        (["simulate", "--policy", "greedy", "--checkpoint", "x.pt"], "--checkpoint"),
        (["simulate", "--policy", "greedy", "--advisor", "smollm"], "--advisor smollm"),
        (["repro", "table99"], "NAME"),
        (["logs", "--policies", "aif"], "--policies"),
    ],
)
def test_agent_flag_errors_are_one_line(args, field, tmp_path, capsys):
    code, _, err = _run([*args, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.startswith(f"aifedge: error: {field}") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_train_then_simulate_checkpoint(tmp_path, capsys):
    cfg = tmp_path / "dqn.toml"
    cfg.write_text("learning_starts = 64\nbuffer_size = 1000\n")
    out = tmp_path / "dqn"
    code, text, _ = _run(
        [
            "train",
            "--algo",
            "dqn",
            "--train-steps",
            "128",
            "--rl-config",
            str(cfg),
            "--steps",
            "20",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0 and (out / "policy.pt").is_file() and (out / "curve.csv").is_file()
    assert "128 env steps" in text
    code, _, _ = _run(
        [
            "simulate",
            "--policy",
            "dqn",
            "--checkpoint",
            str(out),
            "--episodes",
            "2",
            "--steps",
            "20",
            "--out",
            str(tmp_path / "sim"),
        ],
        capsys,
    )
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert code == 0 and summary["policy"] == "dqn" and 0 <= summary["summary"]["qos"] <= 1
    code, _, err = _run(
        ["simulate", "--policy", "sac", "--checkpoint", str(out), "--out", str(tmp_path / "x")],
        capsys,
    )
    assert code == 2 and "holds a 'dqn' policy" in err


@pytest.mark.slow
def test_logs_and_prior(tmp_path, capsys):
    code, _, _ = _run(
        [
            "logs",
            "--episodes",
            "2",
            "--steps",
            "20",
            "--out",
            str(tmp_path / "logs.csv"),
            "--prior-out",
            str(tmp_path / "p.json"),
        ],
        capsys,
    )
    assert code == 0
    assert len((tmp_path / "logs.csv").read_text().splitlines()) == 1 + 2 * 20 * 5
    prior = KeywordPrior.load(tmp_path / "p.json")  # round-trips through the loader
    data = json.loads((tmp_path / "p.json").read_text())
    assert len(data["vocabulary"]) == len(data["weights"]) == len(data["idf"]) > 0
    assert data["target"] == prior.target and data["associations"]
    assert all(len(rows) == len(data["vocabulary"]) for rows in data["associations"].values())
    assert all(w >= 0 for w in data["weights"])


def test_repro_config_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("episodez = 3\n")
    code, _, err = _run(
        ["repro", "table3", "--config", str(bad), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2 and err.startswith("aifedge: error: --config: episodez: not a field")
    assert not (tmp_path / "o").exists()
    shipped = Path(__file__).parents[1] / "paper_repro" / "configs" / "he2024_medium.toml"
    cfg = with_overrides(he2024.FIG3.full, **load_overrides(shipped))
    assert (cfg.seeds, cfg.n_episodes, cfg.final_window) == (3, 100, 20)
    assert with_overrides(he2024.FIG4.full, **load_overrides(shipped)).t_max_values[-1] == 15.0
    assert cfg.agent == he2024.FIG3.full.agent
