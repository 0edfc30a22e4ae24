"""Sensitivity on ``paper`` with the agents (issue #17): Table 4 variants as methods, the
Table 4 ordering per point, RL methods trained at every point."""

import numpy as np
import pytest

from aifedge.config import ConfigError
from aifedge.paper_repro import sensitivity as sens


def test_table4_methods_are_the_paper_scenarios_variants():
    # by hand: Table 4's rows on paper
    assert sens.TABLE4 == {
        "aif-llm": (),
        "aif-llm w/o prior": ("prior",),
        "aif-llm w/o semantic": ("semantic",),
        "aif-llm w/o meta-λ": ("meta-lambda",),
        "aif": None,
    }
    assert {"aif-llm", "aif", "sac", "greedy"} <= set(sens.SensitivityConfig().methods)
    assert "qos:aif-llm>sac" in sens.SensitivityConfig().claims
    with pytest.raises(
        ConfigError, match=r"SensitivityConfig\.methods: unknown \['aif-llm w/o advice'\]"
    ):
        sens.SensitivityConfig(methods=("greedy", "aif-llm w/o advice"))
    with pytest.raises(ConfigError, match=r"SensitivityConfig\.train_steps"):
        sens.SensitivityConfig(train_steps=0)


def test_ranking_orders_by_decreasing_mean_and_keeps_ties_in_order():
    import pandas as pd

    means = pd.Series({"aif": 0.71, "aif-llm": 0.68, "aif-llm w/o prior": 0.71, "sac": 0.5})
    assert sens.ranking(means) == "aif > aif-llm w/o prior > aif-llm > sac"
    assert sens.ranking(means[["sac", "aif-llm"]]) == "aif-llm > sac"


@pytest.mark.slow
def test_ablation_job_is_the_protocols_table4_job():
    """The frozen point's ``aif-llm w/o semantic`` episodes (2, keys from seed 1000) are the
    AIF-LLM protocol's Table 4 job on the same keys: the same agent and env at the frozen
    knobs, built by two modules."""
    from aifedge.config import load_overrides
    from aifedge.paper_repro import aif_llm

    point = {k: float(v) for k, v in load_overrides(sens.FROZEN).items()}
    got = sens.run_point(point, "aif-llm w/o semantic", 1000, 2)
    protocol = aif_llm.Config(episodes=2, seeds=1, eval_seed=1000)  # scenario paper
    ref = aif_llm._aif_episodes_job("w/o semantic", 0, protocol)
    np.testing.assert_allclose(got["qos"], ref.qos.to_numpy())
    np.testing.assert_allclose(got["tcr"], ref.tcr.to_numpy())
