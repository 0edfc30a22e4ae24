"""Online learning of the ``aif`` agent (issue 16, item 3): QoS per episode with carried state.

Protocol: ``runs`` independent runs per variant; each run is ``episodes`` consecutive episodes
of ``steps`` decisions, with the policy state carried across episodes (``batch_rollout(...,
carry_policy_state=True)``: the learned Dirichlet counts persist; on ``paper`` the agent drops
its episode-time bookings and advice when a new episode starts). Run r uses the episode keys
``split(PRNGKey(seed + r), episodes)``, the same for every variant (common random numbers).

Scenario (``Config.scenario``): ``"v1"`` (the ``aif-llm`` simulator, ``aif`` on
``aif_llm_slack_model``, horizon 1, no pruning) or the path of a TOML of ``paper`` knobs
(``paper`` agent ``aif`` = ``build_paper_agent`` without D_LLM and semantic term, its
``PAPER_CONFIG``; ``PAPER`` uses the frozen calibration ``calibration.FROZEN``). The learned
counts are pA[outcome:*] = c_0 · A (``prior_count`` c_0, generic model: v1's slack model,
``paper``'s spike-GPD / phase-duration prior), updated by pA += lr_A · o ⊗ Q(s) after every
outcome. Variants:

    learn       outcome likelihoods learned online (``AgentConfig.learn_A``, ``lr_A``, c_0 =
                ``prior_count``)
    learn-weak  the same with c_0 = ``weak_count`` (a weaker Dirichlet prior)
    fixed       the same prior model, never updated (the shipped ``aif``; its A = pA / Σ pA
                does not depend on c_0, so it is the twin of both)
    learn-req   (paper) the requirement prior learned per task text
                (``inference.aif_llm_paper_learning``): Dirichlet counts d₀ = c_req · P(req |
                type), d[x] += lr_req · q(req) of each scored task; A fixed
    learn-req-llm  the same from d₀ = c_req · D_LLM (AIF-LLM Eq. 3, the keyword prior)
    fixed-llm   D_LLM, never updated (the twin of ``learn-req-llm``)
    learn-A-req ``learn`` (c_0 = ``prior_count``) and ``learn-req`` together
    learn-wrong / fixed-wrong   (v1 only) the same two from a deliberately wrong prior: a light
                spike tail (exponential, scale 5 ms, probability 0.5 %) instead of the paper's
                ζ = 1.5 GPD, i.e. a model that believes every node is safe below its deadline

E[Dir(pA)] after n outcomes is (c_0 A + lr_A N) / (c_0 + lr_A n): only c_0 / lr_A matters for
an agent that uses the mean A (both scenarios' agents: no parameter information gain).

Rows: per variant, the mean QoS of the first and of the last ``tail`` episodes (per run,
then over runs) with Welch's t-test (over runs) of each learning variant's last episodes
against its fixed twin's (and the paired t-test: run r of both variants sees the same
episodes), and the episodes to convergence (``convergence.convergence_episode``,
issue 16 item 6) with its bootstrap CI over runs (``convergence.bootstrap_ci``); on
``paper`` also the QoS of the tasks of the NEW types (``type_probs`` = 0, they appear at
``new_types_slot``: the cold start) in the first episode and in the last episodes, with
Welch's p of the last against the twin;
``frame.attrs["data"]``: the curves, one row per (variant, episode) with the mean QoS over
runs and its standard error.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import aif_llm, aif_llm_paper, batch_rollout
from aifedge.environments.metrics import welch_test
from aifedge.generative_models.aif_llm_model import EvtTail

from .calibration import FROZEN
from .common import Artifact
from .convergence import RULE, bootstrap_ci, convergence_episode

WRONG_TAIL = EvtTail(0.0, 5.0, 0.0, 0.005)
"""The wrong prior's spike tail: exponential, σ = 5 ms, P(spike) = 0.5 %."""
TWINS = {
    "learn": "fixed",
    "learn-weak": "fixed",
    "learn-wrong": "fixed-wrong",
    "learn-req": "fixed",
    "learn-req-llm": "fixed-llm",
    "learn-A-req": "fixed",
}
"""Learning variant -> the fixed variant its last episodes are compared with."""
VARIANTS = {
    "v1": ("learn", "learn-weak", "learn-wrong", "fixed", "fixed-wrong"),
    "paper": (
        "learn",
        "learn-weak",
        "fixed",
        "learn-req",
        "learn-req-llm",
        "fixed-llm",
        "learn-A-req",
    ),
}


@dataclass(frozen=True)
class Config:
    """runs × episodes × steps per variant; ``tail`` final episodes compared; ``seed``;
    ``scenario``: "v1" or a TOML of ``paper`` knobs; ``lr_A``, ``prior_count`` (c_0) of
    ``learn``, ``weak_count`` (c_0) of ``learn-weak``; ``req_count`` (c_req), ``lr_req`` of
    the ``*-req*`` variants."""

    runs: int = 20
    episodes: int = 50
    steps: int = 100
    tail: int = 10
    seed: int = 0
    variants: tuple = ("learn", "fixed", "learn-wrong", "fixed-wrong")
    scenario: str = "v1"
    lr_A: float = 1.0
    prior_count: float = 4.0
    weak_count: float = 0.25
    req_count: float = 4.0
    lr_req: float = 1.0

    def __post_init__(self):
        allowed = VARIANTS[self.kind]
        bad = [v for v in self.variants if v not in allowed]
        if bad:
            raise ConfigError(
                f"variants: {bad} not available on scenario {self.kind!r}; choose from "
                f"{', '.join(allowed)}"
            )
        for name in ("lr_A", "prior_count", "weak_count", "req_count", "lr_req"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0 (got {getattr(self, name)!r})")

    @property
    def kind(self) -> str:
        """The scenario family: "v1" or "paper"."""
        return "v1" if self.scenario == "v1" else "paper"


QUICK = Config(runs=4, episodes=10, tail=5, variants=("learn-wrong", "fixed-wrong"))
FULL = Config()
PAPER = Config(scenario=FROZEN, steps=400, variants=VARIANTS["paper"])
"""``paper`` at its frozen calibration, full 400-decision episodes, the planned c_0 = 4 and
weak c_0 = 0.25 (``paper_repro/paper_learning_plan.md``; the confirming run,
``paper_repro/configs/aif_learning_paper.toml``, adds seed 5000)."""


def make_params(cfg: Config):
    """``EnvParams`` of ``cfg.scenario`` with ``max_steps = cfg.steps``."""
    if cfg.kind == "v1":
        return aif_llm.make_params(max_steps=cfg.steps)
    from aifedge.config import load_overrides

    return aif_llm_paper.make_params(**{**load_overrides(cfg.scenario), "max_steps": cfg.steps})


def make_policy(variant: str, params, cfg: Config):
    """The ``Policy`` of ``variant`` (module docstring) on ``params``' scenario."""
    from aifedge.inference.policies import AIF_CONFIG, make_aif_policy

    learn = variant in ("learn", "learn-weak", "learn-wrong", "learn-A-req")
    count = cfg.weak_count if variant == "learn-weak" else cfg.prior_count
    if cfg.kind == "paper":
        from aifedge.inference.aif_llm_paper_agent import PAPER_CONFIG, build_paper_agent
        from aifedge.inference.aif_llm_paper_learning import build_req_learner

        config = PAPER_CONFIG._replace(learn_A=learn, lr_A=cfg.lr_A)
        agent = build_paper_agent(
            params, d_llm=variant.endswith("llm"), config=config, prior_count=count
        )
        if "req" in variant:
            return build_req_learner(agent, cfg.req_count, cfg.lr_req).policy()
        return agent.policy()
    config = AIF_CONFIG._replace(learn_A=learn, lr_A=cfg.lr_A)
    options = {"evt_tail": WRONG_TAIL} if variant.endswith("wrong") else {}
    return make_aif_policy(params, config, prior_count=count, **options)


def qos_curves(variant: str, cfg: Config) -> np.ndarray:
    """(runs, episodes) QoS (fraction met) per episode with carried policy state."""
    return curves(variant, cfg)[0]


def curves(variant: str, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(runs, episodes) QoS (fraction met) per episode with carried policy state, of all
    tasks and of the tasks of the new types (``paper``: ``type_probs`` = 0; NaN on ``v1`` or
    in an episode without one)."""
    params = make_params(cfg)
    env = aif_llm if cfg.kind == "v1" else aif_llm_paper
    policy = make_policy(variant, params, cfg)
    new_type = np.asarray(params.class_probs) == 0

    @jax.jit
    def one_run(key):
        keys = jax.random.split(key, cfg.episodes)
        infos = batch_rollout(keys, policy, params, cfg.steps, env, carry_policy_state=True)
        met = infos.outcome == env.MET
        new = jnp.asarray(new_type)[infos.task_class]
        return met.mean(-1), (met & new).sum(-1) / new.sum(-1)  # 0 / 0 = NaN

    keys = jax.vmap(jax.random.PRNGKey)(cfg.seed + np.arange(cfg.runs))
    qos, qos_new = jax.device_get(jax.vmap(one_run)(keys))
    return np.asarray(qos), np.asarray(qos_new)


def req_belief_error(variant: str, cfg: Config) -> dict:
    """How far the requirement prior of a ``*-req*`` variant is from the simulator's true
    P(req | text) (``aif_llm_paper_learning.text_req_rates``) before and after the runs:
    mean |P(private) − true| and |P(strict) − true| over texts weighted by the tasks scored
    per text (all texts and the new types' texts), and the tasks scored per run."""
    from aifedge.environments.rollout import episode, init_key
    from aifedge.environments.task_texts import PAPER_TASK_TEXTS
    from aifedge.inference.aif_llm_paper_learning import text_req_rates

    params = make_params(cfg)
    policy = make_policy(variant, params, cfg)

    @jax.jit
    def counts(key):
        keys = jax.random.split(key, cfg.episodes)
        pstate = policy.init(init_key(keys[0]), params)

        def body(ps, k):
            return episode(k, policy, params, cfg.steps, ps, aif_llm_paper)[1], None

        return jax.lax.scan(body, pstate, keys)[0].counts, pstate.counts

    keys = jax.vmap(jax.random.PRNGKey)(cfg.seed + np.arange(cfg.runs))
    final, first = (np.asarray(x, float) for x in jax.vmap(counts)(keys))
    truth = text_req_rates(params)
    scored = (final.sum(-1) - first.sum(-1)).mean(0)
    per_type = len(PAPER_TASK_TEXTS) // len(params.type_probs)
    new = np.repeat(np.asarray(params.type_probs) == 0, per_type)
    out = {"scored_per_run": float(scored.sum())}
    for name, bit in (("private", slice(2, 4)), ("strict", slice(1, 4, 2))):
        for when, c in (("prior", first), ("learned", final)):
            err = np.abs((c[..., bit].sum(-1) / c.sum(-1)) - truth[:, bit].sum(-1)).mean(0)
            out[f"{name}_err_{when}"] = float(np.average(err, weights=scored))
            out[f"{name}_err_{when}_new"] = float(np.average(err[new], weights=scored[new]))
    return out


def convergence(curves: np.ndarray) -> tuple[float, float, float]:
    """(episode, CI low, CI high) of ``curves`` (R, E) in QoS % by ``convergence.RULE``; NaNs
    when E is too short for it (fewer than 2 blocks, or no episode before the plateau)."""
    episodes = curves.shape[1]
    if not RULE.applies(episodes):
        return (float("nan"),) * 3
    return (convergence_episode(curves), *bootstrap_ci(curves))


def summarise(curves: dict, cfg: Config, new: dict | None = None) -> pd.DataFrame:
    """The rows of the module docstring from ``curves`` {variant: (runs, episodes) QoS
    fractions} and ``new`` (the same for the new task types; None: no such columns); the
    per-episode curves in ``attrs["data"]``."""
    rows = [
        {
            "variant": v,
            "episode": e,
            "qos": 100 * c[:, e].mean(),
            "qos_se": 100 * c[:, e].std(ddof=1) / np.sqrt(cfg.runs),
            **({} if new is None else {"qos_new": 100 * np.nanmean(new[v][:, e])}),
        }
        for v, c in curves.items()
        for e in range(cfg.episodes)
    ]
    final = []
    for v, c in curves.items():
        last = 100 * c[:, -cfg.tail :].mean(1)
        twin = TWINS.get(v)
        p = p_paired = float("nan")
        if twin in curves:
            base = 100 * curves[twin][:, -cfg.tail :].mean(1)
            p, p_paired = welch_test(last, base)[1], float(stats.ttest_rel(last, base).pvalue)
        conv, lo, hi = convergence(100 * c)
        row = {
            "variant": v,
            f"qos_first_{cfg.tail}": 100 * c[:, : cfg.tail].mean(),
            f"qos_last_{cfg.tail}": last.mean(),
            "se_last": last.std(ddof=1) / np.sqrt(cfg.runs),
            "welch_p_vs_fixed": p,
            "paired_p_vs_fixed": p_paired,
            "convergence_ep": conv,
            "convergence_ci_lo": lo,
            "convergence_ci_hi": hi,
        }
        if new is not None:
            row.update(_new_type_columns(new, v, twin, cfg))
        final.append(row)
    frame = pd.DataFrame(final)
    frame.attrs["data"] = pd.DataFrame(rows)
    return frame


def _new_type_columns(new: dict, v: str, twin: str | None, cfg: Config) -> dict:
    """New-type QoS of ``v``: episode 0 (cold start) and the last ``tail`` episodes (per run,
    then over runs), Welch's p of the latter against ``twin``."""
    last = 100 * np.nanmean(new[v][:, -cfg.tail :], 1)
    p = float("nan")
    if twin in new:
        p = welch_test(last, 100 * np.nanmean(new[twin][:, -cfg.tail :], 1))[1]
    return {
        "new_qos_ep0": 100 * np.nanmean(new[v][:, 0]),
        f"new_qos_last_{cfg.tail}": last.mean(),
        "new_welch_p": p,
    }


def run(cfg: Config) -> pd.DataFrame:
    """Learning curves and the final comparison (module docstring)."""
    out = {v: curves(v, cfg) for v in cfg.variants}
    new = {v: n for v, (_, n) in out.items()} if cfg.kind == "paper" else None
    return summarise({v: q for v, (q, _) in out.items()}, cfg, new)


def plot(frame: pd.DataFrame):
    """QoS per episode (mean ± SE over runs) for every variant (``frame.attrs["data"]``); a
    second panel with the new task types' QoS when the data has it (``paper``)."""
    import matplotlib.pyplot as plt

    data = frame.attrs["data"]
    new = "qos_new" in data
    fig, axes = plt.subplots(1, 1 + new, figsize=(6 + 5 * new, 3.5), squeeze=False)
    ax = axes[0, 0]
    for v, g in data.groupby("variant", sort=False):
        ax.plot(g["episode"], g["qos"], label=v)
        ax.fill_between(g["episode"], g["qos"] - g["qos_se"], g["qos"] + g["qos_se"], alpha=0.2)
        if new:
            axes[0, 1].plot(g["episode"], g["qos_new"], label=v)
    ax.set_xlabel("episode (policy state carried)")
    ax.set_ylabel("QoS satisfaction (%)")
    ax.legend(fontsize=8)
    if new:
        axes[0, 1].set_xlabel("episode (policy state carried)")
        axes[0, 1].set_ylabel("QoS of the new task types (%)")
    fig.tight_layout()
    return fig


LEARNING = Artifact(
    "aif-learning", "aif: online learning curves (issue 16 item 3)", run, QUICK, FULL, plot
)
