"""Episodes to convergence, defined on learning curves (AIF-LLM Table 4's last column).

The paper reports "收敛步数" (steps to convergence) without a rule. Ours (issue #16):

1. **Curves.** R ≥ 20 independent runs of E consecutive episodes each; the policy is
   initialised once per run and its state (beliefs, online fits, learned counts) is carried
   from one episode to the next (``carried_qos``); a run's curve is its per-episode QoS %.
2. **Plateau.** Per run, the mean QoS of the last 20 % of its episodes (P_r).
3. **Blocks.** Episodes are grouped in blocks of ``block`` episodes; per run and block the
   difference d_rb = (block mean − P_r), so the standard error SE_b = sd_r(d_rb)/√R comes
   from independent runs and includes over-dispersion, autocorrelation within a run and the
   plateau's own noise (a binomial band has none of these).
4. **Band.** max(``floor`` = 1 point, c · SE_b), c = max(``z`` = 2, t*): "stays within"
   is a claim about every later block, so c is raised to the simultaneous critical value
   t* = t_{R−1}(1 − α/(2·n_blocks)) (Bonferroni over the blocks, α = 0.05). With the
   pointwise c = 2 a flat curve leaves the band in ~5 % of blocks and "converges" at a
   random late block (measured on synthetic flat curves with a cloud-only policy's
   per-episode sd of 6.7 points, R = 20, 200 episodes, 10-episode blocks: mean 58 episodes).
5. **Convergence** = the first episode after which the mean difference stays inside the band
   in every block: ``(last block outside + 1) · block``, 0 if none is outside (a policy
   that does not learn). NaN when the curve still leaves the band inside its plateau
   window (not settled within the run).

``bootstrap_ci`` resamples runs (numpy, seeded) for a percentile interval. The rule's
resolution is one block; its unit is episodes (× steps per episode = decisions).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.rollout import episode, init_key
from aifedge.protocols import Policy


@dataclasses.dataclass(frozen=True)
class ConvergenceRule:
    """block: episodes per block; floor: smallest band (QoS points); z: pointwise band in SEs;
    plateau_frac: share of the last episodes that define the plateau; family_alpha: error
    rate of the simultaneous band (module docstring)."""

    block: int = 5
    floor: float = 1.0
    z: float = 2.0
    plateau_frac: float = 0.2
    family_alpha: float = 0.05

    def __post_init__(self):
        def bad(name, rule):
            raise ConfigError(f"ConvergenceRule.{name}: {rule} (got {getattr(self, name)!r})")

        if not (isinstance(self.block, int) and self.block >= 1):
            bad("block", "must be an int ≥ 1 episode")
        for name in ("floor", "z"):
            if not getattr(self, name) >= 0:
                bad(name, "must be ≥ 0")
        for name in ("plateau_frac", "family_alpha"):
            if not 0 < getattr(self, name) < 1:
                bad(name, "must lie in (0, 1)")

    def plateau_len(self, episodes: int) -> int:
        """Episodes in the plateau window: the last ⌈plateau_frac · E⌉, at least one block."""
        return max(self.block, math.ceil(self.plateau_frac * episodes))

    def applies(self, episodes: int) -> bool:
        """Whether curves of ``episodes`` episodes have two blocks and episodes before the
        plateau window (else ``block_band`` refuses them)."""
        return episodes // self.block >= 2 and self.plateau_len(episodes) < episodes


RULE = ConvergenceRule()


def _check(curves) -> np.ndarray:
    c = np.asarray(curves, float)
    if c.ndim != 2 or c.shape[0] < 2 or not np.all(np.isfinite(c)):
        raise ValueError(
            f"curves: need a finite (runs, episodes) array with runs ≥ 2 (got shape {c.shape})"
        )
    return c


def block_band(curves, rule: ConvergenceRule = RULE) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean block difference from the plateau (n_blocks,), band (n_blocks,), plateau) of
    ``curves`` (R, E) in QoS points; steps 2–4 of the module docstring."""
    c = _check(curves)
    runs, episodes = c.shape
    n_blocks = episodes // rule.block
    if not rule.applies(episodes):
        raise ValueError(
            f"curves: {episodes} episodes are too few for blocks of {rule.block} and a "
            f"plateau of {rule.plateau_len(episodes)} episodes; run more episodes"
        )
    plateau = c[:, -rule.plateau_len(episodes) :].mean(axis=1)
    blocks = c[:, : n_blocks * rule.block].reshape(runs, n_blocks, rule.block).mean(axis=2)
    diff = blocks - plateau[:, None]
    se = diff.std(axis=0, ddof=1) / math.sqrt(runs)
    crit = max(rule.z, stats.t.ppf(1 - rule.family_alpha / (2 * n_blocks), runs - 1))
    return diff.mean(axis=0), np.maximum(rule.floor, crit * se), float(plateau.mean())


def convergence_episode(curves, rule: ConvergenceRule = RULE) -> float:
    """Episodes to convergence of ``curves`` (R, E), QoS % per run and episode: 0 for a curve
    that is at its plateau from the start, NaN when it has not settled within the run."""
    mean, band, _ = block_band(curves, rule)
    outside = np.flatnonzero(np.abs(mean) > band)
    episode = 0 if outside.size == 0 else (outside[-1] + 1) * rule.block
    episodes = np.shape(curves)[1]
    return float(episode) if episode <= episodes - rule.plateau_len(episodes) else math.nan


def bootstrap_ci(
    curves, rule: ConvergenceRule = RULE, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``convergence_episode`` over ``n_boot`` resamples of the runs
    (with replacement; ``numpy.random.default_rng(seed)``). A resample that has not settled
    counts as +inf, so an upper bound of inf means "may not settle within the run".

    Convergence is a last-exceedance statistic: a resample adds sampling noise to every
    block, so late false exits are more frequent than in the data and the upper end is
    conservative (a clean 15-point step at episode 30 with sd 3, R = 20: [30, 70])."""
    c = _check(curves)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            convergence_episode(c[rng.integers(0, c.shape[0], c.shape[0])], rule)
            for _ in range(n_boot)
        ]
    )
    draws = np.where(np.isnan(draws), np.inf, draws)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(draws, [tail, 100 - tail], method="inverted_cdf")
    return float(lo), float(hi)


def carried_qos(
    policy: Policy, keys: jax.Array, params: aif_llm.EnvParams, steps: int, env=aif_llm
):
    """(E,) QoS (fraction met) of E consecutive ``aif-llm`` episodes of one run, keys (E, 2);
    ``env``: the scenario's module (``aif_llm`` = v1, or ``aif_llm_paper``).

    ``policy.init`` runs once (with episode 0's init key); its state is carried across
    episodes. Episode e splits ``keys[e]`` as ``rollout`` does (reset, init, loop), so a
    stateless policy gives exactly ``rollout``'s episodes."""

    def qos(pstate, key):
        infos, pstate = episode(key, policy, params, steps, pstate, env)
        return pstate, jnp.mean(infos.outcome == aif_llm.MET)

    pstate = policy.init(init_key(keys[0]), params)
    return jax.lax.scan(qos, pstate, keys)[1]


QosFn = Callable[[Policy, jax.Array], jax.Array]


def learning_curves(policy: Policy, keys: jax.Array, qos_fn: QosFn) -> np.ndarray:
    """(R, E) QoS % of R runs, keys (R, E, 2): ``qos_fn(policy, keys[r])`` gives run r's (E,)
    per-episode QoS (a fraction) with the policy state carried across its episodes, e.g.
    ``functools.partial(carried_qos, params=..., steps=...)``; runs are vmapped."""
    curves = jax.jit(jax.vmap(lambda k: qos_fn(policy, k)))(keys)
    return 100.0 * np.asarray(curves, float)


def curve_keys(seed: int, runs: int, episodes: int) -> jax.Array:
    """(runs, episodes, 2) episode keys of the learning curves: ``split(PRNGKey(seed))``."""
    keys = jax.random.split(jax.random.PRNGKey(seed), runs * episodes)
    return keys.reshape(runs, episodes, -1)
