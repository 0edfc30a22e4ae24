"""He et al. Figs. 3–5 reproduction modules at toy size (He et al. §V)."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aifedge.config import ConfigError
from aifedge.inference import aif_rg
from aifedge.paper_repro import he2024 as repro
from aifedge.paper_repro.common import write_artifact

pytestmark = pytest.mark.slow  # `make check` skips these; `make test` runs them

# Same agent config as tests/test_aif_rg.py: the jitted episode is compiled once per process.
AGENT_CFG = aif_rg.AifRgConfig(
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
    cfg = repro.Fig3Config(methods=("aif-rg", "random"), final_window=1, **TOY)
    table = repro.run_fig3(cfg)
    assert set(table["reproduced?"]) <= {"yes", "no", "n/a"}
    drl = table[table.method.isin(repro.DRL)]
    assert (drl["reproduced?"] == "n/a").all() and drl.ours.isna().all()  # not run here
    paper_rows = table[table.relation != "reference"]
    ours = paper_rows[(paper_rows.method == "aif-rg") & (paper_rows.metric == "tcr")].ours.item()
    assert 0.0 <= ours <= 1.0
    ref = table[table.method == "random"]
    assert set(ref.metric) == {"tcr", "avg_latency_s", "avg_pass"}
    assert set(ref.setting) == {"final", "frozen policy, t_max = 15 s"}
    assert (ref["reproduced?"] == "n/a").all()
    # "final" = the last training episode here (final_window = 1)
    last = table.attrs["data"].query("method == 'aif-rg' and episode == 2").tcr.item()
    assert ours == pytest.approx(last)
    data = table.attrs["data"]
    assert len(data) == 2 * cfg.n_episodes and set(data.method) == {"aif-rg", "random"}
    fig = repro.plot_fig3(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
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
        (table.method == "aif-rg") & (table.setting == "t_max ≤ 2 s") & (table.metric == "tcr")
    ]
    assert row.ours.item() == 0.0 and row["reproduced?"].item() == "yes"
    data = table.attrs["data"]
    assert set(data.t_max_s) == {1.0, 2.0, 12.0}
    assert data[data.t_max_s >= 12].tcr.mean() > 0.0
    assert len(repro.plot_fig4(table).axes) == 4


def test_fig5_toy_random_completes_fewer_tasks_at_double_load():
    """The pool is sized for 100 tasks (§V.A): at 200 % load TCR must fall."""
    cfg = repro.Fig5Config(methods=("random",), n_tasks_values=(100, 200), **TOY)
    table = repro.run_fig5(cfg)
    data = table.attrs["data"]
    np.testing.assert_allclose(sorted(set(data.load)), [1.0, 2.0])
    tcr = data.groupby("load").tcr.mean()
    assert tcr[2.0] < tcr[1.0]
    assert (table["reproduced?"] == "n/a").all()  # no paper method was run
    assert len(repro.plot_fig5(table).axes) == 4


def test_drl_baseline_runs_through_tianshou():
    """PPO from aifedge.baselines.rl trains on He2024Env; training episodes are recorded."""
    # n_tasks = 6 as in tests/test_he2024_env.py: the gym step is compiled once per process
    cfg = repro.Fig3Config(methods=("ppo",), final_window=1, env=(("n_tasks", 6),), **TOY)
    table = repro.run_fig3(cfg)
    data = table.attrs["data"]
    assert len(data) >= 1 and data.tcr.between(0, 1).all()
    row = table[(table.method == "ppo") & (table.metric == "tcr") & (table.relation == "≈")]
    assert 0.0 <= row.ours.item() <= 1.0 and row["reproduced?"].item() in ("yes", "no")
