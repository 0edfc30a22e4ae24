"""UCB-COMA Figs. 4–9 reproduction modules at toy size (cheap schemes, tiny env, 2 seeds)."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from aifedge.config import ConfigError
from aifedge.paper_repro import ucb_coma as u
from aifedge.paper_repro.common import write_artifact

pytestmark = pytest.mark.slow  # `make check` skips these; `make test` runs them

# Same env and episode count as tests/test_marl.py, so the jit cache is shared in one run.
TOY = u.TOY
VERDICTS = {"yes", "no", "n/a"}


def test_normalise_and_ema_by_hand():
    np.testing.assert_allclose(
        u.normalise(np.array([2.0, 4.0, 3.0, np.nan])), [0.1, 1.0, 0.55, np.nan]
    )
    np.testing.assert_allclose(u.normalise(np.array([5.0, 5.0])), [0.1, 0.1])
    np.testing.assert_allclose(u.ema(np.array([1.0, 3.0, 3.0]), alpha=0.5), [1.0, 2.0, 2.5])


def test_extreme_rows_margin_and_verdict():
    idx = pd.MultiIndex.from_tuples(
        [
            (5.0, "ucb-coma"),
            (5.0, "coma"),
            (5.0, "random"),
            (6.0, "ucb-coma"),
            (6.0, "coma"),
            (6.0, "random"),
        ],
        names=["bandwidth_mhz", "scheme"],
    )
    means = pd.Series([10.0, 8.0, 0.0, 7.0, 9.0, 1.0], index=idx)
    rows = u._extreme_rows(
        "fig5", means, "bandwidth_mhz", "ucb-coma", "highest", "p", "reward", 0.05
    )
    assert [r["ours"] for r in rows] == [2.0, -2.0]
    assert [r["reproduced?"] for r in rows] == ["yes", "no"]
    assert rows[0]["tol"] == pytest.approx(0.5)  # 5 % of the spread 10 − 0
    low = u._extreme_rows("fig5", means, "bandwidth_mhz", "random", "lowest", "p", "reward", 0.05)
    assert [r["reproduced?"] for r in low] == ["yes", "yes"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seeds", 0),
        ("n_episodes", 2),
        ("eval_episodes", 1),
        ("schemes", ("qmix",)),
        ("references", ("nope",)),
        ("sensitivity", ((("theta", -1.0),),)),
        ("tail", 0.9),
        ("fig9_scheme", "nope"),
        ("env_overrides", (("bandwidth_mhz", -1.0),)),
    ],
)
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        u.UcbComaConfig(**{field: value})


def _check_frame(frame: pd.DataFrame, fig: str):
    assert list(frame.columns) == u.COLUMNS
    assert set(frame["reproduced?"]) <= VERDICTS and (frame.figure == fig).all()
    assert set(frame["testable?"]) <= VERDICTS
    assert len(frame) > 0


def test_fig4_toy_writes_csv_md_png_json(tmp_path):
    frame = u.run_fig4(TOY)
    _check_frame(frame, "fig4")
    data = frame.attrs["data"]
    schemes = {"cs-ucb", "random", *u.REFERENCES}
    assert len(data) == len(schemes) * TOY.seeds * TOY.n_episodes and set(data.scheme) == schemes
    summary = frame.attrs["final"].set_index("scheme")
    # the summary's training reward is the mean over seeds of each seed's tail mean
    k = round(TOY.tail * TOY.n_episodes)
    cs = data[(data.scheme == "cs-ucb") & (data.episode > TOY.n_episodes - k)]
    assert summary.loc["cs-ucb", "reward"] == pytest.approx(cs.groupby("seed").reward.mean().mean())
    # the greedy-evaluation reward decomposes into the six §4.1.2 terms
    terms = summary[[f"eval_{t}" for t in u.dag.REWARD_TERMS]].sum(1)
    np.testing.assert_allclose(terms, summary.eval_reward, rtol=1e-5, atol=1e-5)
    # the references complete every task; CS-UCB filters infeasible actions, so it beats
    # Random by far from the first episode
    assert (summary.loc[list(u.REFERENCES), "eval_completion"] == 1.0).all()
    assert summary.loc["cs-ucb", "reward"] > summary.loc["random", "reward"]
    assert list(summary.loc[list(u.REFERENCES), "role"]) == ["reference", "reference"]
    paths = write_artifact(u.FIG4, frame, TOY, tmp_path, 0.0)
    assert all(p.exists() for p in paths.values())
    assert set(paths) == {"csv", "md", "png", "json", "data", "final"}


def test_fig5_fig6_share_the_w_sweep_and_report_headroom():
    f5, f6 = u.run_fig5(TOY), u.run_fig6(TOY)
    _check_frame(f5, "fig5")
    _check_frame(f6, "fig6")
    s6 = f6.attrs["final"]
    assert len(s6) == 2 * 4 and set(s6.bandwidth_mhz) == {5.0, 6.0}
    finite = s6.eval_weighted_norm.dropna()
    assert finite.between(0.1, 1.0).all()
    assert math.isclose(finite.min(), 0.1) or len(finite.unique()) == 1
    # headroom = |ceiling − masked-random| of the judged metric in that setting
    at5 = s6[s6.bandwidth_mhz == 5.0].set_index("scheme").eval_weighted
    row = f6[f6.setting == "bandwidth_mhz=5.0"].iloc[0]
    assert row.headroom == pytest.approx(abs(at5["ready-cloud"] - at5["masked-random"]))
    for plot in (u.plot_fig5(f5), u.plot_fig6(f6)):
        assert isinstance(plot, Figure)


def test_sensitivity_ms_scales_only_the_objective_term():
    """Same ceiling policy, delay term in ms: the θ term is unchanged, the objective term
    grows by ≈ 1000 × its delay part (cost is < 1 % of it at these sizes)."""
    frame = u.run_sensitivity(TOY)
    _check_frame(frame, "sensitivity")
    summ = frame.attrs["final"].set_index(["variant", "scheme"])
    s_row = summ.loc[("paper (s, θ=2)", "ready-cloud")]
    ms_row = summ.loc[("delay_unit_s=0.001", "ready-cloud")]
    assert ms_row.eval_r_theta == pytest.approx(s_row.eval_r_theta)
    assert 500 < ms_row.eval_r_objective / s_row.eval_r_objective < 1001
    assert summ.loc[("theta=0.0", "ready-cloud"), "eval_r_theta"] == 0.0
    assert isinstance(u.plot_sensitivity(frame), Figure)


def test_fig7_fig8_fig9_toy():
    f7, f8 = u.run_fig7(TOY), u.run_fig8(TOY)
    _check_frame(f7, "fig7")
    _check_frame(f8, "fig8")
    f9 = u.run_fig9(TOY)
    _check_frame(f9, "fig9")
    assert list(f9.attrs["final"].fault_prob) == [0.0, 0.5]
    assert isinstance(u.plot_fig9(f9), Figure) and isinstance(u.plot_fig8(f8), Figure)


def test_aif_extension_table_matches_its_data(tmp_path):
    frame = u.run_aif(TOY)  # TOY's cheap schemes; the aif learner itself: test_ucb_coma_agent.py
    data = frame.attrs["data"]
    k = round(TOY.tail * TOY.n_episodes)
    row = frame.set_index("scheme").loc["cs-ucb"]
    cs = data[data.scheme == "cs-ucb"]
    assert row.last_reward == pytest.approx(cs[cs.episode > TOY.n_episodes - k].reward.mean())
    assert row.first_reward == pytest.approx(cs[cs.episode <= k].reward.mean())
    assert set(data.seed) == {0, 1}
    assert 0 <= row.last_completion <= 1 and 0 <= row.last_deadline <= 1
    assert row.last_reward > frame.set_index("scheme").loc["random", "last_reward"]
    assert u.AIF.quick.schemes == u.AIF_SCHEMES and "aif" in u.AIF.full.schemes
    paths = write_artifact(u.AIF, frame, TOY, tmp_path, 0.0)
    assert all(p.exists() for p in paths.values())
