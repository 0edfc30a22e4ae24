"""The ``mpc`` reference policy of scenario ``paper`` (issue #17): a short-horizon planner on
the true model, checked against the oracle and a hand-built value."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.baselines.reference import make_mpc, make_oracle, mpc_action, mpc_values
from aifedge.config import ConfigError
from aifedge.environments import aif_llm, batch_rollout, episode_metrics
from aifedge.environments import aif_llm_paper as P
from aifedge.simulate import episode_keys, get_policy

PARAMS = P.make_params(max_steps=40)
ORACLE = make_oracle(PARAMS)


@pytest.mark.slow  # compiles two batched rollouts (≈ 15 s CPU)
def test_mpc_with_horizon_zero_is_the_oracle():
    """Same keys, H = 0: the very same decisions, so identical outcomes."""
    keys = episode_keys(3, 0, 2)
    a, b = jax.jit(
        lambda k: [batch_rollout(k, pol, PARAMS, 40, P) for pol in (make_mpc(PARAMS, 0), ORACLE)]
    )(keys)
    np.testing.assert_array_equal(np.asarray(a.node), np.asarray(b.node))
    np.testing.assert_array_equal(np.asarray(a.outcome), np.asarray(b.outcome))


@pytest.mark.slow  # compiles the planner and a vmapped step (≈ 15 s CPU)
def test_mpc_value_matches_a_hand_rollout_of_one_step_ahead():
    """H = 1, M = 1: V(a) = P(met | a) + max_j P(met | j) at the state after a, stepped with
    the key the planner uses (``split(split(key, 1)[0], 1)[0]``)."""
    obs, _ = jax.jit(P.reset, static_argnums=1)(jax.random.PRNGKey(5), PARAMS)
    key = jax.random.PRNGKey(9)
    got, act = jax.jit(
        lambda k, o: (mpc_values(k, o, PARAMS, 1, 1), mpc_action(k, o, PARAMS, 1, 1))
    )(key, obs)
    k_step = jax.random.split(jax.random.split(key, 1)[0], 1)[0]
    step = jax.jit(jax.vmap(P.step, in_axes=(None, None, 0, None)), static_argnums=3)
    nxt = step(k_step, obs.state, jnp.arange(PARAMS.n_nodes), PARAMS)[0]
    want = np.asarray(obs.oracle[:, 0]) + np.asarray(nxt.oracle[:, :, 0]).max(axis=1)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-6)
    assert int(act) == int(np.argmax(want - 1e-9 * np.asarray(obs.oracle[:, 1])))


@pytest.mark.slow
def test_mpc_is_not_worse_than_the_oracle():
    """16 episodes of 40 decisions with common random numbers: mean QoS(mpc) ≥ QoS(oracle)
    − 2 paired s.e. (the planner includes the oracle's choice among its candidates)."""
    keys = episode_keys(11, 0, 16)

    @jax.jit
    def qos(keys):
        infos = [batch_rollout(keys, pol, PARAMS, 40, P) for pol in (make_mpc(PARAMS), ORACLE)]
        return [episode_metrics(i.outcome, i.latency_ms)["qos"] for i in infos]

    mpc, oracle = (np.asarray(q) for q in qos(keys))
    diff = mpc - oracle
    assert diff.mean() >= -2 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_mpc_is_registered_and_refuses_v1_and_bad_settings():
    assert get_policy("mpc", "aif-llm", PARAMS) is not None
    with pytest.raises(ConfigError, match="scenario paper"):
        make_mpc(aif_llm.make_params())
    with pytest.raises(ConfigError, match="horizon"):
        make_mpc(PARAMS, horizon=-1)
    with pytest.raises(ConfigError, match="samples"):
        make_mpc(PARAMS, samples=0)


def test_limit_load_rates_by_hand():
    """ρ levels 1, 1, 2, 3 per episode: q = 0.5 of the pooled (1,1,2,3,1,1,2,3) is 1.5, so
    the interval is the last two steps of each episode."""
    from aifedge.environments.metrics import limit_load_rates

    met, vio, fail = P.MET, P.VIOLATED, P.FAILED
    outcome = np.array([[fail, fail, met, fail], [met, met, vio, vio]])
    rho = np.tile([1.0, 1.0, 2.0, 3.0], (2, 1))
    got = limit_load_rates(outcome, rho, q=0.5)
    np.testing.assert_array_equal(got["limit_n"], [2, 2])
    np.testing.assert_allclose(got["limit_qos"], [0.5, 0.0])
    np.testing.assert_allclose(got["limit_tcr"], [0.5, 1.0])
    none = limit_load_rates(outcome, np.array([[1.0] * 4, [0.0] * 4]), q=0.9)
    assert none["limit_n"].tolist() == [4, 0] and np.isnan(none["limit_qos"][1])


def test_rrr_rows_pool_the_limit_load_steps():
    import pandas as pd

    from aifedge.paper_repro.aif_llm import rrr_rows

    frame = pd.DataFrame(
        {"policy": ["A", "A", "B", "B"], "qos": [0.9, 0.7, 0.5, 0.7], "tcr": [1.0, 0.8, 0.9, 0.7],
         "limit_n": [1, 3, 2, 2], "limit_qos": [1.0, 0.0, 0.25, 0.75],
         "limit_tcr": [1.0, 2 / 3, 0.5, 1.0]}
    )  # fmt: skip
    (q_all, _), (q_lim, t_lim) = (rrr_rows(frame, "A", ["B"], i) for i in ("all", "limit"))
    assert q_all["RRR % (ours)"] == pytest.approx(100 * (0.4 - 0.2) / 0.4)  # episode means
    assert q_lim["A risk %"] == pytest.approx(75.0)  # 1 met of 4 limit-load steps
    assert q_lim["RRR % (ours)"] == pytest.approx(100 * (0.5 - 0.75) / 0.5)
    assert t_lim["RRR % (ours)"] == pytest.approx(100 * (0.25 - 0.25) / 0.25)  # 3 of 4 both


@pytest.mark.slow  # compiles two rollouts
def test_load_path_does_not_depend_on_the_actions():
    """The limit-load interval is the same steps for every method (common random numbers)."""
    keys = episode_keys(2, 0, 2)
    from aifedge.baselines import HEURISTICS
    from aifedge.environments import stateless

    a, b = jax.jit(
        lambda k: [
            batch_rollout(k, stateless(HEURISTICS[n]), PARAMS, 40, P).load_rho
            for n in ("greedy", "cloud")
        ]
    )(keys)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sensitivity_points_move_one_knob_by_delta():
    from aifedge.paper_repro.sensitivity import BASE, SensitivityConfig, points

    base = {"rho": 0.9, "hazard": 1.0, "tail": 0.5, "tightness": 2.0}
    pts = points(SensitivityConfig(knobs=("rho", "tail")), base)
    assert [(k, f) for k, f, _ in pts] == [(BASE, 1.0), ("rho", 0.8), ("rho", 1.2),
                                           ("tail", 0.8), ("tail", 1.2)]  # fmt: skip
    assert pts[2][2] == {**base, "rho": pytest.approx(1.08)}
    assert pts[3][2] == {**base, "tail": pytest.approx(0.4)}
    with pytest.raises(ConfigError, match="knobs"):
        SensitivityConfig(knobs=("load",))
    with pytest.raises(ConfigError, match="delta"):
        SensitivityConfig(delta=1.5)


@pytest.mark.slow
def test_repro_sensitivity_quick_tests_the_claim_at_every_point(tmp_path):
    """``--quick``: greedy and oracle, ρ ± 20 %; the oracle's QoS ≥ greedy's at every point
    (it sees the true state; 4 episodes on the same keys)."""
    import pandas as pd

    from aifedge.cli import main

    out = tmp_path / "s"
    assert main(["repro", "sensitivity", "--quick", "--out", str(out)]) in (0, None)
    frame = pd.read_csv(out / "sensitivity.csv")
    assert list(frame.knob) == ["frozen point", "rho", "rho"]
    assert frame["oracle−greedy as claimed"].all() and frame["same ordering"].all()
    eps = pd.read_csv(out / "sensitivity_data.csv")
    cell = eps[(eps.knob == "rho") & (eps.factor == 1.2)]
    mean = cell.groupby("policy").qos.mean()
    assert frame.loc[2, "oracle−greedy (pts)"] == pytest.approx(100 * (mean.oracle - mean.greedy))
