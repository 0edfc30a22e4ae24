"""Hostile CLI input: each case is one line ``aifedge: error: …``, exit 2, no traceback,
nothing written, and refused before any computation (in-process ``main``)."""

import json

import jax
import numpy as np
import pytest

from aifedge.cli import main
from aifedge.simulate import check_memory, episode_keys


def _fails(args, capsys, needle, tmp_path=None):
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's own errors (same format, exit 2)
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("aifedge: error: ") and err.count("\n") == 1, err
    assert needle in err, err
    if tmp_path is not None:
        assert not (tmp_path / "o").exists()
    return err


SIM = ["simulate", "--policy", "greedy", "--episodes", "2", "--steps", "3"]


@pytest.mark.parametrize(
    "text, needle",
    [
        ('cloud_gflops = "fast"', "cloud_gflops: expected a finite number (got 'fast')"),
        ("[cloud_gflops]\na = 1", "cloud_gflops: expected a finite number (got {'a': 1})"),
        ("edge_gflops = [[1.0], [2.0, 3.0]]", "edge_gflops: expected a list of finite numbers"),
        ("net_transition = [0.5, 0.3, 0.2]", "net_transition: expected a rectangular list"),
        ("net_transition = [[0.5, 0.5], [1.0]]", "net_transition: expected a rectangular list"),
        ("timeout_factor = nan", "timeout_factor: expected a finite number (got nan)"),
        ("jitter_sigma = nan", "jitter_sigma: expected a finite number"),
        ("deadline_ms = [300.0, inf, 1500.0, 4000.0]", "deadline_ms: expected a list of finite"),
        ("max_steps = true", "max_steps: expected an integer (got True)"),
    ],
)
def test_mistyped_toml_configs(text, needle, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text + "\n")
    _fails(
        [*SIM[:-2], "--config", str(cfg), "--out", str(tmp_path / "o")], capsys, needle, tmp_path
    )


def test_null_and_non_utf8_configs(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"spike_shape": None}))
    _fails([*SIM, "--config", str(cfg), "--out", str(tmp_path / "o")], capsys, "(got None)")
    bad = tmp_path / "c.toml"
    bad.write_bytes(b"cloud_gflops = 5\n# caf\xe9\n")
    _fails([*SIM, "--config", str(bad), "--out", str(tmp_path / "o")], capsys, "not UTF-8")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["compare", "--policies", ","], "--policies: name at least one policy"),
        (["compare", "--policies", " , "], "--policies: name at least one policy"),
        (
            [*SIM, "--seed", str(2**70)],
            "--seed: must lie in [0, 2^32 − 1] (got 1180591620717411303424)",
        ),
        ([*SIM, "--seed", str(2**32)], "--seed: must lie in [0, 2^32 − 1] (got 4294967296)"),
        ([*SIM, "--seed", "-1"], "--seed: must lie in"),
        (["simulate", "--policy", "greedy", "--episodes", "10000000000"], "--episodes/--steps"),
        (["simulate", "--policy", "greedy", "--steps", "2000000000"], "GiB of memory"),
        (["logs", "--episodes", "100000000", "--out", "l.csv"], "GiB of memory"),
    ],
)
def test_bad_counts_seeds_and_memory(args, needle, tmp_path, capsys):
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "o")]
    _fails(args, capsys, needle, tmp_path)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["bench", "env", "--json", "/dev/null/x.json"], "--json: cannot create '/dev/null'"),
        (["logs", "--out", "/dev/null/x.csv"], "--out: cannot create"),
        (["logs", "--out", "x.csv", "--prior-out", "/dev/null/p.json"], "--prior-out"),
        (["train-meta", "--out", "/dev/null/m.eqx"], "--out: cannot create"),
        (["compare", "--out", "/dev/null/x"], "--out: cannot create"),
    ],
)
def test_bad_output_paths_before_any_computation(args, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fails(args, capsys, needle)
    assert list(tmp_path.iterdir()) == []


def test_memory_estimate_grows_with_episodes_not_chunks():
    small, big = check_memory(100, 100), check_memory(10_000, 100)
    assert big - small == (10_000 - 100) * 400  # rows only: the chunk term is fixed


@pytest.mark.parametrize(
    "seed, start, stop, n", [(0, 0, 5, 5), (7, 3, 9, 20), (2**32 - 1, 60, 64, 64)]
)
def test_chunked_episode_keys_equal_split(seed, start, stop, n):
    want = np.asarray(jax.random.split(jax.random.PRNGKey(seed), n))[start:stop]
    assert np.array_equal(np.asarray(episode_keys(seed, start, stop)), want)


# ------------------------------------------------------------------ checkpoints
torch = pytest.importorskip("torch")


def _payload(tmp_path, name, n_edge=5, **edit):
    from aifedge.baselines import rl
    from aifedge.environments import aif_llm
    from aifedge.environments.gym_wrapper import AifLlmEnv

    params = aif_llm.make_params(edge_gflops=tuple(50.0 + 30 * i for i in range(n_edge)))
    obs, act = rl._spaces(lambda: AifLlmEnv(params))
    cfg = rl.make_config("dqn")
    module = rl._build_policy("dqn", cfg, obs, act)
    payload = {
        "format": rl.CHECKPOINT_FORMAT,
        "algo": "dqn",
        "config": json.dumps(__import__("dataclasses").asdict(cfg)),
        "obs_shape": list(obs.shape),
        "n_actions": int(act.n),
        "state_dict": module.state_dict(),
    }
    for k, v in edit.items():
        if v is None:
            payload.pop(k)
        else:
            payload[k] = v(payload[k]) if callable(v) else v
    path = tmp_path / name
    torch.save(payload, path)
    return path


def _shrunk(state):
    return {k: v[..., :1] for k, v in state.items()}


@pytest.mark.parametrize(
    "name, kw, needle",
    [
        ("no_algo.pt", {"algo": None}, "lacks or garbles a field ('algo')"),
        ("bad_shapes.pt", {"state_dict": _shrunk}, "weights do not fit a dqn network"),
        ("three_edge.pt", {"n_edge": 3}, "another number of edge nodes"),
    ],
)
def test_broken_checkpoints(name, kw, needle, tmp_path, capsys):
    path = _payload(tmp_path, name, **kw)
    args = [*SIM[:1], "--policy", "dqn", "--checkpoint", str(path), "--episodes", "1"]
    err = _fails([*args, "--out", str(tmp_path / "o")], capsys, needle, tmp_path)
    assert "weights_only" not in err


def test_truncated_checkpoint_never_suggests_unsafe_loading(tmp_path, capsys):
    path = _payload(tmp_path, "ok.pt")
    path.write_bytes(path.read_bytes()[:200])
    args = ["simulate", "--policy", "dqn", "--checkpoint", str(path), "--out", str(tmp_path / "o")]
    err = _fails(args, capsys, "not a loadable aifedge checkpoint", tmp_path)
    assert "weights_only" not in err
