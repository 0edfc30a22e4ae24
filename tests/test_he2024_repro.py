"""He et al. Figs. 3–5 reproduction modules at toy size (He et al. §V)."""

import json
import math
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aifedge.config import ConfigError
from aifedge.inference import he2024_agent
from aifedge.paper_repro import he2024 as repro
from aifedge.paper_repro.common import write_artifact

pytestmark = pytest.mark.slow  # `make check` skips these; `make test` runs them

# Same agent config as tests/test_he2024_agent.py: the jitted episode is compiled once per process.
AGENT_CFG = he2024_agent.AifRgConfig(
    n_candidates=48, top_k=6, n_iters=2, horizon=2, ensemble_size=3, fit_steps=200, buffer_size=4096
)
TOY = dict(seeds=1, n_episodes=2, eval_episodes=2, agent=AGENT_CFG)


def test_paper_values_hold_the_stated_numbers():
    pv = repro.paper_values()
    fig3 = pv[(pv.figure == "fig3") & (pv.setting == "final")].set_index(["metric", "method"])
    assert fig3.loc[("tcr", "aif-rg"), "paper"] == 0.99
    assert [fig3.loc[("tcr", m), "paper"] for m in ("rainbow", "ppo", "sac")] == [0.85, 0.9, 0.8]
    assert fig3.loc[("avg_pass", "aif-rg"), "paper"] == 0.175
    assert [fig3.loc[("avg_pass", m), "paper"] for m in ("rainbow", "ppo", "sac")] == [
        0.15,
        0.15,
        0.14,
    ]
    assert set(pv.relation) <= {"≈", "≥", "≤", "decreasing", "increasing", "highest"}
    assert pv.tol.notna().all() and pv.source.str.len().gt(0).all()
    assert set(pv.figure) == {"fig3", "fig4", "fig5"}


@pytest.mark.parametrize(
    ("relation", "ours", "paper", "tol", "expected"),
    [
        ("≈", 0.97, 0.99, 0.05, "yes"),
        ("≈", 0.90, 0.99, 0.05, "no"),
        ("≥", 0.19, 0.20, 0.02, "yes"),
        ("≥", 0.10, 0.20, 0.02, "no"),
        ("≤", 0.21, 0.20, 0.0, "no"),
        ("decreasing", -0.3, math.nan, 0.0, "yes"),
        ("increasing", -0.3, math.nan, 0.0, "no"),
        ("highest", 0.5, math.nan, 0.0, "yes"),
        ("≈", math.nan, 0.99, 0.05, "n/a"),
    ],
)
def test_verdicts(relation, ours, paper, tol, expected):
    assert repro.verdict(relation, ours, paper, tol) == expected


def test_slope_of_a_flat_series_is_zero_not_float_noise():
    assert repro._slope([1.0, 1.2, 1.4, 1.6], [17.3, 17.3, 17.3, 17.3]) == 0.0
    assert repro.verdict("increasing", repro._slope([1, 2], [17.3, 17.3]), math.nan, 0) == "no"
    assert repro._slope([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_config_rejects_unknown_methods():
    with pytest.raises(ConfigError, match="methods"):
        repro.Fig3Config(methods=("aif-rg", "dqn-typo"))
    with pytest.raises(ConfigError, match="n_episodes"):
        repro.Fig4Config(n_episodes=0)
    with pytest.raises(ConfigError, match="final_window"):
        repro.Fig3Config(final_window=0)


def test_fig3_toy_run_table_plot_and_files(tmp_path):
    cfg = repro.Fig3Config(methods=("aif-rg", "he-greedy", "random"), final_window=1, **TOY)
    table = repro.run_fig3(cfg)
    assert set(table["reproduced?"]) <= {"yes", "no", "n/a"}
    assert set(table["mode"]) == {"train", "greedy", "sample"}
    drl = table[table.method.isin(repro.DRL)]
    assert (drl["reproduced?"] == "n/a").all() and drl.ours.isna().all()  # not run here
    paper_rows = table[(table.relation != "reference") & (table["mode"] == "train")]
    ours = paper_rows[(paper_rows.method == "aif-rg") & (paper_rows.metric == "tcr")].ours.item()
    assert 0.0 <= ours <= 1.0
    ref = table[table.method.isin(repro.REFERENCE)]
    assert {"tcr", "avg_latency_s", "avg_pass", "utility"} <= set(ref.metric)
    assert (ref["reproduced?"] == "n/a").all() and (ref.relation == "reference").all()
    headroom = table[table.method == "aif-rg − he-greedy, random"]
    assert len(headroom) == 3 and headroom.ours.notna().all()  # one per mode
    # "final" = the last training episode here (final_window = 1)
    last = table.attrs["data"].query("method == 'aif-rg' and episode == 2").tcr.item()
    assert ours == pytest.approx(last)
    data = table.attrs["data"]
    assert len(data) == 3 * cfg.n_episodes
    final = table.attrs["final"]
    assert len(final) == 3 * 2 * cfg.eval_episodes  # methods × modes × episodes
    greedy_rule = final[final.method == "he-greedy"].groupby("mode").tcr.mean()
    assert greedy_rule["greedy"] == greedy_rule["sample"]  # a rule: the same in both modes
    fig = repro.plot_fig3(table)
    assert isinstance(fig, Figure) and len(fig.axes) == len(repro.METRICS)
    paths = write_artifact(repro.FIG3, table, cfg, tmp_path, wall_s=1.0)
    assert all(p.exists() for p in paths.values())
    assert set(paths) == {"csv", "md", "png", "json", "data", "final"}
    assert len(pd.read_csv(paths["data"])) == len(table.attrs["data"])
    assert len(pd.read_csv(paths["csv"])) == len(table)


def test_fig4_toy_nothing_completes_below_2s():
    """§V.C: t_max ≤ 2 s leaves every method at TCR 0 — the verdict must say "yes"."""
    cfg = repro.Fig4Config(methods=("aif-rg", "random"), t_max_values=(1.0, 2.0, 12.0), **TOY)
    table = repro.run_fig4(cfg)
    row = table[
        (table.method == "aif-rg")
        & (table.setting == "t_max ≤ 2 s")
        & (table.metric == "tcr")
        & (table["mode"] == "greedy")
    ]
    assert row.ours.item() == 0.0 and row["reproduced?"].item() == "yes"
    data = table.attrs["data"]
    assert set(data.t_max_s) == {1.0, 2.0, 12.0}
    assert data[data.t_max_s >= 12].tcr.mean() > 0.0
    assert len(repro.plot_fig4(table).axes) == len(repro.METRICS)


def test_fig5_toy_random_completes_fewer_tasks_at_double_load():
    """The pool is sized for 100 tasks (§V.A): at 200 % load TCR must fall."""
    cfg = repro.Fig5Config(methods=("random",), n_tasks_values=(100, 200), **TOY)
    table = repro.run_fig5(cfg)
    data = table.attrs["data"]
    np.testing.assert_allclose(sorted(set(data.load)), [1.0, 2.0])
    tcr = data.groupby("load").tcr.mean()
    assert tcr[2.0] < tcr[1.0]
    assert (table["reproduced?"] == "n/a").all()  # no paper method was run
    assert len(repro.plot_fig5(table).axes) == len(repro.METRICS)


def test_drl_baseline_runs_through_tianshou():
    """PPO from aifedge.baselines.rl trains on He2024Env; training episodes are recorded."""
    # n_tasks = 6 as in tests/test_he2024_env.py: the gym step is compiled once per process
    cfg = repro.Fig3Config(methods=("ppo",), final_window=1, env=(("n_tasks", 6),), **TOY)
    table = repro.run_fig3(cfg)
    data = table.attrs["data"]
    assert len(data) >= 1 and data.tcr.between(0, 1).all()
    row = table[
        (table.method == "ppo")
        & (table.metric == "tcr")
        & (table.relation == "≈")
        & (table["mode"] == "train")
    ]
    assert 0.0 <= row.ours.item() <= 1.0 and row["reproduced?"].item() in ("yes", "no")


# --------------------------------------------------------------------------- protocol


def _actions(act_theta, keys):
    """Actions of ``(act, theta)`` on 64 fixed observations (one per reset key), act keys
    ``keys``."""
    act, theta = act_theta
    params = repro.he2024.make_params(n_tasks=6)
    obs, _ = jax.vmap(repro.he2024.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(3), 64), params
    )
    return np.asarray(jax.vmap(lambda k, o: act(k, o, params, theta))(keys, obs))


@pytest.mark.slow
def test_every_method_is_evaluated_in_the_same_mode():
    """Greedy: every policy but the random floor is a function of the observation (two act
    keys, the same actions). Sample: every learned policy draws from its distribution (the
    actions change with the key), the rule does not. Fails if one method samples while
    another does not."""
    k1 = jax.random.split(jax.random.PRNGKey(1), 64)
    k2 = jax.random.split(jax.random.PRNGKey(2), 64)
    for method in repro.METHODS:
        # one 6-task training episode (the gym step compiled once per process, as above)
        trained = repro.train_method(method, 1, AGENT_CFG, (("n_tasks", 6),), 0)
        assert set(trained.acts) == set(repro.EVAL_MODES)
        greedy, sample = trained.acts["greedy"], trained.acts["sample"]
        same_greedy = (_actions(greedy, k1) == _actions(greedy, k2)).all()
        same_sample = (_actions(sample, k1) == _actions(sample, k2)).all()
        assert same_greedy == (method != "random"), method
        assert same_sample == (method == "he-greedy"), method


def test_all_methods_face_the_same_episodes():
    """Evaluation keys fix the env's randomness: the request sequence (terminal, packet
    sizes) of an episode is identical under two different policies."""
    params = repro.he2024.make_params(n_tasks=20)
    key = jax.random.PRNGKey(5)

    def requests(act):
        flats, _, _, info = repro.he2024.rollout(key, act, params)
        return np.asarray(flats[:, -2:]), np.asarray(info.rate_bps > 0)

    rule, rand = repro.HE2024_HEURISTICS["he-greedy"], repro.HE2024_HEURISTICS["random"]
    assert all(np.array_equal(a, b) for a, b in zip(requests(rule), requests(rand), strict=True))
    rows_a = repro.evaluate(repro._Rule(rule), params, 3, key)
    rows_b = repro.evaluate(repro._Rule(rule), params, 3, key)
    assert rows_a == rows_b


def test_convergence_rule_is_the_aif_llm_rule_with_seeds_as_runs():
    """3 seeds at TCR 0.5 for 40 episodes, then 0.9 with binomial noise of 100 tasks (block
    means sd ≈ 1.3 points, band ≈ 20 SE ≈ 16 points): the 40-point step ends at episode 40,
    a block boundary. NaN for one seed, for a run too short for the rule (plateau = the last
    20 %, blocks of 5) and for a curve that steps inside its plateau window."""
    rng = np.random.default_rng(0)
    p = np.r_[np.full(40, 0.5), np.full(60, 0.9)]
    curves = rng.binomial(100, np.broadcast_to(p, (3, 100))) / 100
    assert repro.convergence_episode(curves) == 40.0
    assert repro.convergence_episode(np.broadcast_to(p, (3, 100))) == 40.0  # noise-free
    assert math.isnan(repro.convergence_episode(curves[:1]))
    assert math.isnan(repro.convergence_episode(curves[:, :9]))
    late = np.broadcast_to(np.r_[np.full(90, 0.5), np.full(10, 0.9)], (3, 100))
    assert math.isnan(repro.convergence_episode(late))


def test_budgets_are_equal_env_steps():
    b = repro.budgets(repro.Fig3Config(n_episodes=100))
    assert set(b.method) == set(repro.LEARNED)
    assert (b.env_steps == 100 * 100).all() and (b.updates > 0).all()


def test_tuned_settings_are_the_recorded_best():
    """``TUNED`` holds each method's best trial of the committed tuning CSV."""
    path = Path(repro.__file__).parent / "results" / "he2024" / "tuning.csv"
    trials = pd.read_csv(path)
    assert set(trials.method) == set(repro.LEARNED)
    assert (trials.groupby("method").size() == 4).all()  # equal budget
    for method, g in trials.groupby("method"):
        best = json.loads(g.loc[g.score_sum_reward.idxmax(), "setting"])  # first of ties
        assert g.chosen.sum() == 1 and json.loads(g.loc[g.chosen, "setting"].item()) == best
        assert dict(repro.TUNED[method]) == best, method


@pytest.mark.slow
def test_suite_writes_every_figure_and_the_readme_tables(tmp_path, capsys):
    """``aifedge repro he2024`` (``run_all``) on the two reference rules (no training): Figs.
    3–5, budgets and the summary Markdown, rendered from the stored files only; ``--store``
    gets every file but the per-episode data."""
    from aifedge.cli import main

    cfg = tmp_path / "suite.toml"
    cfg.write_text(
        'methods = ["he-greedy", "random"]\nseeds = 1\nn_episodes = 5\neval_episodes = 2\n'
        "final_window = 2\nt_max_values = [2.0, 15.0]\nn_tasks_values = [100, 200]\n"
    )
    out, store = tmp_path / "out", tmp_path / "store"
    argv = ["repro", "he2024", "--config", str(cfg), "--out", str(out), "--store", str(store)]
    assert main(argv) == 0
    fig4 = pd.read_csv(out / "he2024-fig4_data.csv")
    assert set(fig4.t_max_s) == {2.0, 15.0} and set(fig4["mode"]) == {"greedy", "sample"}
    text = (out / "he2024-summary.md").read_text()
    assert "| he-greedy | greedy | 1.000" in text  # the hand-checked rule: TCR 1 at 15 s
    assert "Budgets" in text and repro.summary(out) == text
    small = {p.name for p in out.iterdir() if not p.name.endswith("_data.csv")}
    assert {p.name for p in store.iterdir()} == small and "he2024-fig5.png" in small
    assert (store / "he2024-summary.md").read_text() == text


def test_suite_refuses_a_bad_config_field_before_running(tmp_path, capsys):
    from aifedge.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("n_episodez = 3\n")
    code = main(["repro", "he2024", "--config", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "n_episodez: not a field of Fig3Config" in err
    assert not (tmp_path / "o").exists()


def test_tuning_trials_get_their_own_settings_not_the_frozen_ones():
    """A tuning trial's setting reaches the learner config as an argument (``tuned``);
    without it the frozen ``TUNED`` settings apply."""
    for setting in repro.TUNING_GRID["gp-nfsp"]:
        cfg = repro._learner_cfg("gp-nfsp", 100, tuple(sorted(setting.items())))
        assert (cfg.gamma, cfg.anticipatory) == (setting["gamma"], setting["anticipatory"])
    frozen = repro._learner_cfg("gp-nfsp", 100)
    assert (frozen.gamma, frozen.anticipatory) == (
        dict(repro.TUNED["gp-nfsp"])["gamma"],
        dict(repro.TUNED["gp-nfsp"])["anticipatory"],
    )
