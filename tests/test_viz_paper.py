"""``aifedge.viz.paper`` (notebook helpers for scenario ``paper``): the true hidden factors
read from a hand-set simulator state, the requirement-belief summary against a hand count,
the plots on a synthetic trace, and the stored learning run."""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm_paper as P
from aifedge.generative_models.aif_llm_paper_model import HEALTH_LEVELS, REQ_LEVELS
from aifedge.viz import paper as pv

matplotlib.use("Agg")


def test_true_hidden_reads_health_and_requirement_from_the_state():
    params = P.make_params(max_steps=10)
    _, s = P.reset(jax.random.PRNGKey(0), params)
    e = params.n_edge
    s = s._replace(
        now_ms=jnp.float32(1000.0),
        up=jnp.arange(e) != 2,  # edge 3 down
        t_deg=jnp.where(jnp.arange(e) == 0, 500.0, 1e9).astype(jnp.float32),  # edge 1 degraded
    )
    i = int(s.idx)
    nominal = float(s.tasks.deadline_ms[i])
    hidden = s.hidden._replace(
        private=s.hidden.private.at[i].set(True),
        deadline_ms=s.hidden.deadline_ms.at[i].set(0.5 * nominal),
    )
    health, req = pv.true_hidden(s._replace(hidden=hidden))
    np.testing.assert_array_equal(health, [1, 0, 2, 0, 0][:e])
    assert int(req) == 3  # private and strict
    hidden = hidden._replace(private=hidden.private.at[i].set(False))
    hidden = hidden._replace(deadline_ms=hidden.deadline_ms.at[i].set(nominal))
    assert int(pv.true_hidden(s._replace(hidden=hidden))[1]) == 0


def _trace(n=6):
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(4), n)
    cols = {"step": np.arange(n), "req": np.array([0, 0, 1, 3, 3, 2])[:n]}
    cols.update({f"P({lv})": q[:, k] for k, lv in enumerate(REQ_LEVELS)})
    for name in ("edge1", "edge2"):
        cols[f"health:{name}"] = rng.integers(0, 3, n)
        h = rng.dirichlet(np.ones(3), n)
        cols.update({f"P({lv}):{name}": h[:, k] for k, lv in enumerate(HEALTH_LEVELS)})
    return pd.DataFrame(cols), q


def test_req_accuracy_by_hand():
    trace, q = _trace()
    acc = pv.req_accuracy(trace)
    assert list(acc.index) == ["open", "open-strict", "private", "private-strict"]
    np.testing.assert_allclose(acc.loc["open", "mean Q(true req)"], q[:2, 0].mean())
    np.testing.assert_allclose(acc.loc["private-strict", "mean Q(true req)"], q[3:5, 3].mean())
    assert acc.loc["open", "n"] == 2 and acc.loc["private", "n"] == 1
    mode = q.argmax(1) == trace["req"].to_numpy()
    np.testing.assert_allclose(acc.loc["open", "mode is true"], mode[:2].mean())


def test_plots_draw_one_panel_per_edge_and_one_bar_pair_per_text():
    trace, _ = _trace()
    assert len(pv.plot_health_beliefs(trace).axes) == 2
    assert len(pv.plot_req_beliefs(trace).axes) == 2
    frame = pd.DataFrame(
        [{"text": t, "prior": p, **dict(zip(REQ_LEVELS, [0.25] * 4, strict=True))}
         for t in ("a", "b") for p in ("type", "D_LLM")]
    )  # fmt: skip
    ax = pv.plot_req_priors(frame).axes[0]
    assert len(ax.patches) == 4 * 4 and len(ax.get_yticks()) == 2


def test_stored_paper_learning_run_is_readable():
    frame = pv.stored_learning("paper")
    assert set(frame["variant"]) == {"learn", "learn-weak", "fixed"}
    data = frame.attrs["data"]
    assert len(data) == 3 * 50
    last = data[data["episode"] >= 40].groupby("variant")["qos"].mean()
    np.testing.assert_allclose(last[frame["variant"]], frame["qos_last_10"], atol=1e-3)
