"""Online learning of the ``aif`` agent (issue 16, item 3): QoS per episode with carried state.

Protocol: ``runs`` independent runs per variant; each run is ``episodes`` consecutive episodes
of ``steps`` decisions on the ``aif-llm`` simulator, with the policy state carried across
episodes (``batch_rollout(..., carry_policy_state=True)``: the learned Dirichlet counts
persist). Run r uses the episode keys ``split(PRNGKey(seed + r), episodes)``, the same for
every variant (common random numbers). Variants (all on ``aif_llm_slack_model``, horizon 1,
no pruning):

    learn       outcome likelihoods learned online (``AgentConfig.learn_A``)
    fixed       the same prior model, never updated (the shipped ``aif``)
    learn-wrong / fixed-wrong   the same two from a deliberately wrong prior: a light spike
                tail (exponential, scale 5 ms, probability 0.5 %) instead of the paper's
                ζ = 1.5 GPD, i.e. a model that believes every node is safe below its deadline

Rows: per variant, the mean QoS of the first and of the last ``tail`` episodes (per run,
then over runs) with Welch's t-test (over runs) of each learning variant's last episodes
against its fixed twin's; ``frame.attrs["data"]``: the curves, one row per (variant,
episode) with the mean QoS over runs and its standard error.
"""

from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from aifedge.environments import aif_llm, batch_rollout
from aifedge.environments.metrics import welch_test
from aifedge.generative_models.aif_llm_model import EvtTail

from .common import Artifact

WRONG_TAIL = EvtTail(0.0, 5.0, 0.0, 0.005)
"""The wrong prior's spike tail: exponential, σ = 5 ms, P(spike) = 0.5 %."""


@dataclass(frozen=True)
class Config:
    """runs × episodes × steps per variant; ``tail`` final episodes compared; ``seed``."""

    runs: int = 20
    episodes: int = 50
    steps: int = 100
    tail: int = 10
    seed: int = 0
    variants: tuple = ("learn", "fixed", "learn-wrong", "fixed-wrong")


QUICK = Config(runs=4, episodes=10, tail=5, variants=("learn-wrong", "fixed-wrong"))
FULL = Config()


def _policy(variant: str, params):
    from aifedge.inference.policies import AIF_CONFIG, make_aif_policy

    learn = variant.startswith("learn")
    config = AIF_CONFIG._replace(learn_A=learn)
    options = {"evt_tail": WRONG_TAIL} if variant.endswith("wrong") else {}
    return make_aif_policy(params, config, **options)


def qos_curves(variant: str, cfg: Config) -> np.ndarray:
    """(runs, episodes) QoS (fraction met) per episode with carried policy state."""
    params = aif_llm.make_params(max_steps=cfg.steps)
    policy = _policy(variant, params)

    @jax.jit
    def one_run(key):
        keys = jax.random.split(key, cfg.episodes)
        infos = batch_rollout(keys, policy, params, cfg.steps, carry_policy_state=True)
        return (infos.outcome == aif_llm.MET).mean(-1)

    keys = jax.vmap(jax.random.PRNGKey)(cfg.seed + np.arange(cfg.runs))
    return np.asarray(jax.device_get(jax.vmap(one_run)(keys)))


def run(cfg: Config) -> pd.DataFrame:
    """Learning curves and the final comparison (module docstring)."""
    curves = {v: qos_curves(v, cfg) for v in cfg.variants}
    rows = [
        {
            "variant": v,
            "episode": e,
            "qos": 100 * c[:, e].mean(),
            "qos_se": 100 * c[:, e].std(ddof=1) / np.sqrt(cfg.runs),
        }
        for v, c in curves.items()
        for e in range(cfg.episodes)
    ]
    final = []
    for v, c in curves.items():
        last = 100 * c[:, -cfg.tail :].mean(1)
        twin = v.replace("learn", "fixed")
        p = float("nan")
        if v.startswith("learn") and twin in curves:
            p = welch_test(last, 100 * curves[twin][:, -cfg.tail :].mean(1))[1]
        first = 100 * c[:, : cfg.tail].mean(1)
        final.append(
            {
                "variant": v,
                f"qos_first_{cfg.tail}": first.mean(),
                f"qos_last_{cfg.tail}": last.mean(),
                "se_last": last.std(ddof=1) / np.sqrt(cfg.runs),
                "welch_p_vs_fixed": p,
            }
        )
    frame = pd.DataFrame(final)
    frame.attrs["data"] = pd.DataFrame(rows)
    return frame


def plot(frame: pd.DataFrame):
    """QoS per episode (mean ± SE over runs) for every variant (``frame.attrs["data"]``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for v, g in frame.attrs["data"].groupby("variant", sort=False):
        ax.plot(g["episode"], g["qos"], label=v)
        ax.fill_between(g["episode"], g["qos"] - g["qos_se"], g["qos"] + g["qos_se"], alpha=0.2)
    ax.set_xlabel("episode (policy state carried)")
    ax.set_ylabel("QoS satisfaction (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


LEARNING = Artifact(
    "aif-learning", "aif: online learning curves (issue 16 item 3)", run, QUICK, FULL, plot
)
