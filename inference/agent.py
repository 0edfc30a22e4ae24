"""Active-inference decision core: belief update, VFE pruning, EFE, action (AIF-LLM Eqs. 4–5).

AIF-LLM §4.4 and Algorithm 1, lines 11–16. One decision is the pure function

    step(key, state, obs) -> (action, state, info)

built on pymdp 1.0: the policy table of ``pymdp.agent.Agent`` (``to_pymdp_agent`` builds
the Agent on the same A, B, C, D), pymdp's fixed-point state inference
(``pymdp.algos.run_factorized_fpi``) and EFE terms (``pymdp.control``) — engine "pymdp" —
or a vectorised re-implementation of exactly those terms for models whose modalities
each depend on one factor — engine "fast", tested equal to both. The step is one
``jit``-ed function with static shapes; ``AifAgent.batch_step`` is its ``vmap``.

For policy π = (u_1, …, u_H) and the posterior Q(s_t) after observing o_t (AIF-LLM)::

    Eq. 4   VFE(π) = Σ_{f ∈ F_prune} KL[Q(s_f) ‖ P(s_f,t+1 | π)],  P(s_{t+1}|π) = B(u_1) Q(s_t)
            keep the K first actions u_1 of lowest VFE with all their continuations;
            the other policies get q(π) = 0 (logit −∞)
    Eq. 5   G(π) = G_prag(π) + G_epis(π) + λ · G_sem(π)
            G_prag = −Σ_τ E_{Q(o_τ|π)}[C(o_τ)]          (C includes the EVT penalty)
            G_epis = −Σ_τ E_{Q(s_τ|π)}[H[Q(o_τ|π)] − H[P(o_τ|s_τ)]]   (state information gain)
            G_sem  = −semantic(π)     (the llm_bridge's per-policy similarity; 0 by default)
            q(π)   = softmax(−γ G(π)) over the kept policies
    action  = first action of argmax q(π) ("deterministic") or of π ~ q(π)^α ("stochastic")
    prior for t + 1 = B(action) Q(s_t)

AIF-LLM Eq. 4 reads Q(s_{t+1}) as the current belief held forward (the policies "most consistent
with the current belief", §4.4.1). ``F_prune`` defaults to every factor except the
bookkeeping ones that are deterministic copies of the action (the cloud-edge model's
``sent:*``, a T-maze's location): their KL only says whether π repeats the last action.
Under ``jit`` the shapes stay static: G is evaluated for every policy in one vectorised
pass and the pruned ones are masked, so pruning changes which policies can be chosen,
not the cost (evaluating K of P policies by a gather is slower at these sizes);
``top_k=None`` or K ≥ #first actions masks nothing. AIF-LLM Eq. 4's score depends on u_1 alone,
so pruning acts on first actions: at H = 1 that is "K policies", and at H ≥ 2 it keeps
K distinct first actions (ranking whole policies by a score shared by all continuations
of one u_1 would keep K continuations of a single first action).

Observations are int arrays (one entry per modality); −1 marks a modality that was not
observed, which then carries no evidence (pymdp's ``mask`` semantics).
"""

import itertools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from pymdp import control
from pymdp.agent import Agent
from pymdp.algos import run_factorized_fpi
from pymdp.learning import update_obs_likelihood_dirichlet_m
from pymdp.maths import log_stable, stable_xlogx

from aifedge.generative_models.base import GenerativeModel, as_jax, pymdp_B, validate

TIE_NATS = 1e-6
"""Resolution of G for deterministic action selection (ties break by policy index)."""


class AgentConfig(NamedTuple):
    """Decision-core settings.

    policy_len        H, planning horizon (policies = all action sequences of length H).
    top_k             K of AIF-LLM Eq. 4 (paper: 5): first actions kept, each with all its
                      continuations (= K policies at H = 1); None keeps every policy.
    gamma             γ, policy precision of q(π) = softmax(−γ G).
    alpha             α, action precision for ``action_selection="stochastic"``.
    action_selection  "deterministic" (argmax q(π)) or "stochastic" (sample q(π)^α).
    num_iter          fixed-point iterations of state inference; None = 1 when every
                      modality depends on one factor (then one pass is exact), else 16.
    use_utility, use_states_info_gain   include G_prag / G_epis.
    prune_factors     factor indices of AIF-LLM Eq. 4's KL; None = the default in the module doc.
    learn_A           update the Dirichlet counts pA (``AgentState.pA``) after every
                      observation (``learn``); off, they stay at the model's pA.
    lr_A              learning rate of that update (pymdp's ``lr``).
    """

    policy_len: int = 1
    top_k: int | None = 5
    gamma: float = 1.0
    alpha: float = 16.0
    action_selection: str = "deterministic"
    num_iter: int | None = None
    use_utility: bool = True
    use_states_info_gain: bool = True
    prune_factors: tuple | None = None
    learn_A: bool = False
    lr_A: float = 1.0


class AgentState(NamedTuple):
    """What the agent carries between decisions (all arrays; ``jit``/``vmap`` friendly).

    prior     (N,): empirical prior for the next observation (D at t = 0), the factors'
              vectors concatenated (N = Σ n_f; ``split_factors`` gives them back).
    C         (M,): log-preferences of G_prag, the modalities' vectors concatenated
              (M = Σ n_m; swap them for a refitted EVT tail with ``with_preferences``).
    lam       (): λ of AIF-LLM Eq. 5 (0 for pure AIF; the meta-λ network sets it per step).
    semantic  (P,): per-policy semantic score; G_sem = −semantic.
    action    (n_control,): last action, −1 before the first decision.
    t         (): decisions taken.
    pA        Dirichlet counts of the modalities with a pA in the model, stacked per
              group of ``AifAgent.learned`` (K_g, n_m, n_f); their A is E[Dir(pA)].
    """

    prior: jax.Array
    C: jax.Array
    lam: jax.Array
    semantic: jax.Array
    action: jax.Array
    t: jax.Array
    pA: tuple = ()


class DecisionInfo(NamedTuple):
    """Everything behind one decision; (P,) arrays are over all policies.

    qs: (N,) posterior, factors concatenated (``split_factors``). vfe: AIF-LLM Eq. 4 score.
    kept: the K policies kept by pruning.
    G, G_pragmatic, G_epistemic, G_semantic: AIF-LLM Eq. 5 and its terms (G = +inf and the
    terms NaN for pruned policies; G_semantic is already multiplied by nothing, so
    G = G_pragmatic + G_epistemic + λ·G_semantic). q_pi: posterior over policies.
    policy: index of the chosen policy.
    """

    qs: jax.Array
    vfe: jax.Array
    kept: jax.Array
    G: jax.Array
    G_pragmatic: jax.Array
    G_epistemic: jax.Array
    G_semantic: jax.Array
    q_pi: jax.Array
    policy: jax.Array


class AifAgent(NamedTuple):
    """A decision core for one ``GenerativeModel`` (blackjax-style pure functions).

    init(D=None, C=None, lam=0.0, semantic=None) -> AgentState
    step(key, state, obs) -> (action, state, DecisionInfo)      jitted
    batch_step(keys, states, obs) -> same with a leading batch axis   jitted vmap
    infer_states(prior, obs, A=()) -> qs;  predict(qs) -> per factor (n_f, U) one step ahead
    under each of the U joint actions;  prune_scores(qs, pred) -> (P,) AIF-LLM Eq. 4;
    policy_terms(qs, pred, C, A=()) -> (G_prag, G_epis) for every policy (no pruning);
    learn(state, obs, qs) -> state with pA updated (identity when learning is off);
    decide(key, state, qs, pred) -> what ``step`` returns, from ``qs = infer_states(
    state.prior, obs, likelihoods(state))``, ``state = learn(state, obs, qs)`` and
    ``pred = predict(qs)`` already at hand (``step`` = these four).
    ``A`` arguments: the current A of the ``learned`` modalities (``likelihoods(state)``);
    () uses the model's A. learned: the modalities with a Dirichlet pA, in groups of one
    A shape (``learned_groups``); their A is read from the state, so ``learn`` or a caller
    can change it between decisions.
    policies: (P, H, n_factors) flattened actions per factor (pymdp layout);
    actions: (P, H, n_control) the same policies as control-factor actions.
    engine: "pymdp" or "fast" (see ``make_agent``).
    """

    model: GenerativeModel
    config: AgentConfig
    policies: jax.Array
    actions: jax.Array
    engine: str
    prune_factors: tuple
    init: Callable
    step: Callable
    batch_step: Callable
    infer_states: Callable
    predict: Callable
    prune_scores: Callable
    policy_terms: Callable
    decide: Callable
    learn: Callable
    learned: tuple = ()


def likelihoods(state: AgentState) -> tuple:
    """A = E[Dir(pA)] of the learned modalities, stacked like ``AgentState.pA``."""
    return tuple(p / jnp.sum(p, axis=1, keepdims=True) for p in state.pA)


def learned_groups(model: GenerativeModel) -> tuple[tuple[int, ...], ...]:
    """Modalities with a Dirichlet pA (their A comes from ``AgentState.pA``), grouped by A
    shape when they depend on one factor (a modality with several factors is alone)."""
    groups: dict = {}
    for m, p in enumerate(model.pA or ()):
        if p is not None:
            deps = model.A_dependencies[m]
            groups.setdefault((np.shape(p), m if len(deps) > 1 else -1), []).append(m)
    return tuple(tuple(g) for g in groups.values())


def policy_table(model: GenerativeModel, policy_len: int) -> tuple[np.ndarray, np.ndarray]:
    """All action sequences of length H: ``(actions (P, H, n_control), flat (P, H, n_f))``.

    Order and flattening match pymdp (``control._construct_policies_tuple`` over the
    control factors, then each factor's action index is the row-major combination of
    its ``B_action_dependencies``).
    """
    n_ctrl = len(model.num_controls)
    combos = itertools.product(*[range(n) for n in model.num_controls * policy_len])
    actions = np.asarray(list(combos), dtype=np.int32).reshape(-1, policy_len, n_ctrl)
    flat = np.zeros((*actions.shape[:2], len(model.B)), dtype=np.int32)
    for f, acts in enumerate(model.B_action_dependencies):
        if acts:
            dims = [model.num_controls[c] for c in acts]
            flat[..., f] = np.ravel_multi_index(tuple(actions[..., c] for c in acts), dims)
    return actions, flat


def default_prune_factors(model: GenerativeModel) -> tuple[int, ...]:
    """Factors of AIF-LLM Eq. 4: all but those moved by an action with 0/1 transitions."""
    keep = []
    for f, (b, acts) in enumerate(zip(model.B, model.B_action_dependencies, strict=True)):
        b = np.asarray(b)
        if not (acts and np.all((b == 0) | (b == 1))):
            keep.append(f)
    return tuple(keep)


def to_pymdp_agent(model: GenerativeModel, config: AgentConfig | None = None) -> Agent:
    """A ``pymdp.agent.Agent`` (batch 1, inference "fpi", sampling "full") on ``model``."""
    config = AgentConfig() if config is None else config

    def lists(deps):
        return [list(d) for d in deps]

    return Agent(
        A=[jnp.asarray(a, jnp.float32) for a in model.A],
        B=[jnp.asarray(b, jnp.float32) for b in pymdp_B(model)],
        C=[jnp.asarray(c, jnp.float32) for c in model.C],
        D=[jnp.asarray(d, jnp.float32) for d in model.D],
        pA=None
        if model.pA is None or any(a is None for a in model.pA)
        else [jnp.asarray(a, jnp.float32) for a in model.pA],
        pB=None
        if model.pB is None
        else [jnp.asarray(b, jnp.float32) for b in pymdp_B(model._replace(B=model.pB))],
        A_dependencies=lists(model.A_dependencies),
        B_dependencies=lists(model.B_dependencies),
        B_action_dependencies=lists(model.B_action_dependencies),
        num_controls=list(model.num_controls),
        policy_len=config.policy_len,
        gamma=config.gamma,
        alpha=config.alpha,
        action_selection=config.action_selection,
        sampling_mode="full",
        inference_algo="fpi",
        num_iter=_num_iter(model, config),
        use_utility=config.use_utility,
        use_states_info_gain=config.use_states_info_gain,
    )


def _num_iter(model: GenerativeModel, config: AgentConfig) -> int:
    if config.num_iter is not None:
        return config.num_iter
    return 1 if all(len(d) == 1 for d in model.A_dependencies) else 16


def _check_config(config: AgentConfig, n_factors: int) -> None:
    if not isinstance(config.policy_len, int) or config.policy_len < 1:
        raise ValueError(
            f"AgentConfig.policy_len: must be an integer ≥ 1 (got {config.policy_len!r})"
        )
    if config.top_k is not None and (not isinstance(config.top_k, int) or config.top_k < 1):
        raise ValueError(
            f"AgentConfig.top_k: must be None or an integer ≥ 1 (got {config.top_k!r})"
        )
    if config.action_selection not in ("deterministic", "stochastic"):
        raise ValueError(
            f"AgentConfig.action_selection: {config.action_selection!r}; choose "
            "'deterministic' or 'stochastic'"
        )
    if not config.gamma > 0 or not config.alpha > 0:
        raise ValueError("AgentConfig.gamma / alpha: must be > 0")
    if not config.lr_A > 0:
        raise ValueError(f"AgentConfig.lr_A: must be > 0 (got {config.lr_A!r})")
    if config.prune_factors is not None and any(
        not 0 <= f < n_factors for f in config.prune_factors
    ):
        raise ValueError(f"AgentConfig.prune_factors: indices must lie in 0..{n_factors - 1}")


def segments(sizes) -> tuple[np.ndarray, list[slice]]:
    """``(offsets, slices)`` of blocks of ``sizes`` laid end to end in one flat vector."""
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    return offs, [slice(int(offs[i]), int(offs[i + 1])) for i in range(len(sizes))]


def _pymdp_engine(
    model: GenerativeModel,
    policies: jax.Array,
    joint_flat: np.ndarray,
    config: AgentConfig,
    learned: tuple = (),
):
    """``(infer_states, predict, policy_terms)`` from pymdp's own functions (any model).

    Flat layouts: beliefs (N,) = factors concatenated, C (M,) = modalities concatenated.
    infer_states(prior, obs, A_dyn) -> qs (N,); predict(qs) -> (N, U) one step ahead under
    each joint action; policy_terms(qs, pred, C, A_dyn) -> (G_prag, G_epis), (P,) each.
    ``A_dyn``: the current A of the ``learned`` groups, stacked (() = the model's).
    """
    jm = as_jax(model)
    A_static, B = list(jm.A), list(jm.B)

    def current(A_dyn):
        A = list(A_static)  # () keeps the model's A
        for g, a in zip(learned, A_dyn, strict=False):
            for k, m in enumerate(g):
                A[m] = a[k]
        return A

    A_deps = [list(d) for d in model.A_dependencies]
    B_deps = [list(d) for d in model.B_dependencies]
    num_obs, num_iter = model.num_obs, _num_iter(model, config)
    _, fsl = segments(model.num_states)
    _, msl = segments(num_obs)

    def infer_states(prior, obs, A_dyn=()):
        A = current(A_dyn)
        obs = jnp.asarray(obs, jnp.int32)
        seen = obs >= 0
        o_vec = [
            jnp.where(seen[m], jax.nn.one_hot(obs[m], n), 1.0 / n) for m, n in enumerate(num_obs)
        ]
        a_eff = [
            jnp.where(seen[m], a, 1.0 / n) for m, (a, n) in enumerate(zip(A, num_obs, strict=True))
        ]
        qs = run_factorized_fpi(a_eff, o_vec, [prior[sl] for sl in fsl], A_deps, num_iter=num_iter)
        return jnp.concatenate(qs)

    def step_one(qs, u):
        return control.compute_expected_state(qs, B, u, B_deps)

    def predict(qs):
        q = [qs[sl] for sl in fsl]
        return jax.vmap(lambda u: jnp.concatenate(step_one(q, u)))(jnp.asarray(joint_flat)).T

    def terms(qs, C, A, policy):
        def body(q, u):
            q_next = step_one(q, u)
            qo = control.compute_expected_obs(q_next, A, A_deps)
            util = control.compute_expected_utility(qo, C) if config.use_utility else jnp.zeros(())
            gain = (
                control.compute_info_gain(q_next, qo, A, A_deps)
                if config.use_states_info_gain
                else jnp.zeros(())
            )
            return q_next, (util, gain)

        _, (util, gain) = jax.lax.scan(body, qs, policy)
        return -util.sum(), -gain.sum()

    def policy_terms(qs, pred, C, A_dyn=()):
        del pred
        q, c = [qs[sl] for sl in fsl], [C[sl] for sl in msl]
        return jax.vmap(terms, in_axes=(None, None, None, 0))(q, c, current(A_dyn), policies)

    return infer_states, predict, policy_terms


def _fast_engine(
    model: GenerativeModel, joint_flat: np.ndarray, config: AgentConfig, learned: tuple = ()
):
    """The same three functions as dense matrix algebra over the flat layouts.

    Needs every modality to depend on one factor. With N = Σ n_f, M = Σ n_m, U joint
    actions; factors whose transitions have the same shapes (n_f and the sizes of their
    sorted dependencies, after dropping dependencies along which B is constant) form a
    group g of K_g factors, z_g (K_g, Z_g) = the outer products of their dependencies'
    beliefs and W_g (K_g, n_f, U, Z_g) their stacked B tensors::

        log q  = log D + Σ_{m observed} log A_m[o_m, :]      (rows of T (M, N) = log A^T)
        q      = softmax within each factor's segment (as padded rows)
        pred   = W_g z_g(q) for each group g (one batched product), rows in factor order
        G_prag = −C · (A_blk pred),   A_blk (M, N): block-diagonal A
        G_epis = −(H[A_blk pred] − h · pred),  h (N,): entropy of each state's outcomes

    Beliefs under all policy prefixes are (N, U^t) arrays (prefix-major: pymdp's order).
    ``learned`` modalities are left out of T and A_blk; their terms are added from the A
    passed in (``A_dyn``, stacked per group): log A[o] into the evidence, and A q, C·(A q),
    H[A q] and h_A · q into the EFE terms.
    Grouping keeps the compiled step at a few dozen kernels, which is what a decision
    costs on a CPU at these sizes.
    """
    ns, no = model.num_states, model.num_obs
    foffs, fsl = segments(ns)
    moffs, msl = segments(no)
    n_tot, m_tot, n_u = int(foffs[-1]), int(moffs[-1]), joint_flat.shape[0]
    horizon = config.policy_len
    pad_idx = np.full((len(ns), max(ns)), n_tot, np.int32)  # factors as padded rows
    for f, sl in enumerate(fsl):
        pad_idx[f, : ns[f]] = np.arange(sl.start, sl.stop)
    unpad_idx = np.concatenate([f * max(ns) + np.arange(n) for f, n in enumerate(ns)])
    T = np.zeros((m_tot, n_tot), np.float32)
    A_ext = np.zeros((m_tot + 1, n_tot), np.float32)  # A_blk with h as its last row
    for m, (f,) in enumerate(model.A_dependencies):
        a = np.asarray(model.A[m], np.float32)
        T[msl[m], fsl[f]] = np.asarray(log_stable(jnp.asarray(a)))
        A_ext[msl[m], fsl[f]] = a
    for m in (m for g in learned for m in g):
        A_ext[msl[m]] = 0.0
    A_ext[-1] = np.asarray(-stable_xlogx(jnp.asarray(A_ext[:-1])).sum(0))
    groups: dict[tuple, list] = {}  # (n_f, dependency sizes) -> [(factor, deps, W_f)]
    for f in range(len(ns)):
        b: np.ndarray = np.asarray(model.B[f], np.float32)
        deps = list(model.B_dependencies[f])
        for ax in range(len(deps), 0, -1):  # drop dependencies B does not vary along
            if len(deps) > 1 and np.array_equal(b, np.broadcast_to(b.take([0], axis=ax), b.shape)):
                b = b.take(0, axis=ax)
                deps.pop(ax - 1)
        order = np.argsort(deps)
        b = b.transpose(0, *(1 + order), len(deps) + 1)
        b = (
            b[..., joint_flat[:, f]]
            if model.B_action_dependencies[f]
            else np.broadcast_to(b, (*b.shape[:-1], n_u))
        )
        deps = sorted(deps)
        groups.setdefault((ns[f], *(ns[d] for d in deps)), []).append(
            (f, deps, np.moveaxis(b.reshape(ns[f], -1, n_u), -1, 1))
        )
    specs = []  # per group: W (K, n, U, Z) and one (K, n_d) index array per dependency
    for members in groups.values():
        W = jnp.asarray(np.stack([w for _, _, w in members]))
        idx = [
            jnp.asarray(
                np.stack([np.arange(foffs[deps[j]], foffs[deps[j] + 1]) for _, deps, _ in members])
            )
            for j in range(len(members[0][1]))
        ]
        specs.append((W, idx))
    row_factor = [f for members in groups.values() for f, _, _ in members]
    perm = jnp.asarray(
        np.argsort(np.concatenate([np.arange(foffs[f], foffs[f + 1]) for f in row_factor]))
    )
    for m in (m for g in learned for m in g):  # from A_dyn (``dynamic``), not T / A_ext
        T[msl[m]] = 0.0
    T, A_ext = jnp.asarray(T), jnp.asarray(A_ext)
    first_row = jnp.asarray(moffs[:-1], jnp.int32)
    A_default = tuple(jnp.asarray(np.stack([model.A[m] for m in g]), jnp.float32) for g in learned)
    dyn_specs = []  # per group: modality ids (K,), belief rows (K, n_f), C rows (K, n_m)
    place = []  # per group: (K·n_f, N) 0/1 matrix putting (K, n_f) rows back (no scatter)
    for g in learned:
        frows = np.stack(
            [np.arange(*foffs[[d, d + 1]]) for m in g for d in model.A_dependencies[m]]
        )
        crows = [np.arange(moffs[m], moffs[m + 1]) for m in g]
        dyn_specs.append(tuple(jnp.asarray(x) for x in (g, frows, np.stack(crows))))
        place.append(jnp.asarray(np.eye(n_tot, dtype=np.float32)[frows.ravel()]))

    def dynamic(A_dyn):
        """Per group: A (K, n_m, n_f), modality ids, belief rows, C rows."""
        return [(a, *spec) for a, spec in zip(A_dyn or A_default, dyn_specs, strict=True)]

    def infer_states(prior, obs, A_dyn=()):
        obs = jnp.asarray(obs, jnp.int32)
        rows = T[first_row + jnp.maximum(obs, 0)]  # (n_modalities, N)
        ev = jnp.where((obs >= 0)[:, None], rows, 0.0).sum(0)
        for (a, ms, _, _), put in zip(dynamic(A_dyn), place, strict=True):
            o = obs[ms]
            la = log_stable(jnp.take_along_axis(a, jnp.maximum(o, 0)[:, None, None], 1)[:, 0])
            ev = ev + jnp.where((o >= 0)[:, None], la, 0.0).reshape(-1) @ put
        logq = jnp.append(log_stable(prior) + ev, -jnp.inf)[pad_idx]  # (F, max n_f)
        return jax.nn.softmax(logq, axis=-1).reshape(-1)[unpad_idx]

    def advance(q):
        """(N, P) beliefs -> (N, P·U) one step later under every joint action."""
        n_p, parts = q.shape[1], []
        for W, idx in specs:
            z = q[idx[0]]  # (K, n_0, P)
            for ix in idx[1:]:
                z = (z[:, :, None, :] * q[ix][:, None, :, :]).reshape(z.shape[0], -1, n_p)
            parts.append(jnp.einsum("knuz,kzp->knpu", W, z).reshape(-1, n_p * n_u))
        return jnp.concatenate(parts)[perm]

    def predict(qs):
        return advance(qs[:, None])

    def policy_terms(qs, pred, C, A_dyn=()):
        del qs
        groups = [(a, -stable_xlogx(a).sum(1), frows, crow) for a, _, frows, crow in dynamic(A_dyn)]
        q, prag, gain = pred, jnp.zeros(n_u), jnp.zeros(n_u)
        for t in range(horizon):
            if t:
                q = advance(q)
                prag, gain = jnp.repeat(prag, n_u), jnp.repeat(gain, n_u)
            y = A_ext @ q  # (M + 1, U^(t+1)): predicted outcomes, then h · q
            if config.use_utility:
                prag = prag - C @ y[:-1]
            if config.use_states_info_gain:
                gain = gain + stable_xlogx(y[:-1]).sum(0) + y[-1]
            for a, h, frows, crow in groups:  # learned modalities: same terms, A from the state
                qf = q[frows]  # (K, n_f, P)
                yd = jnp.einsum("kmf,kfp->kmp", a, qf)
                if config.use_utility:
                    prag = prag - jnp.einsum("km,kmp->p", C[crow], yd)
                if config.use_states_info_gain:
                    gain = gain + stable_xlogx(yd).sum((0, 1)) + jnp.einsum("kf,kfp->p", h, qf)
        return prag, gain

    return infer_states, predict, policy_terms


def make_agent(
    model: GenerativeModel, config: AgentConfig | None = None, engine: str = "auto"
) -> AifAgent:
    """Build the decision core for ``model`` (validated first); see the module docstring.

    ``engine``: "pymdp" evaluates with pymdp's functions policy by policy (any model);
    "fast" is the vectorised equivalent for models whose modalities each depend on one
    factor (tested equal to "pymdp" and to ``pymdp.agent.Agent``); "auto" picks "fast"
    when it applies.
    """
    config = AgentConfig() if config is None else config
    validate(model)
    _check_config(config, len(model.B))
    single = all(len(d) == 1 for d in model.A_dependencies)
    if engine == "auto":
        engine = "fast" if single and config.num_iter in (None, 1) else "pymdp"
    if engine not in ("pymdp", "fast") or (engine == "fast" and not single):
        raise ValueError(
            f"engine: {engine!r} is not available for this model; choose 'pymdp' "
            "(any model), 'fast' (every modality depends on one factor) or 'auto'"
        )
    jm = as_jax(model)
    actions_np, flat_np = policy_table(model, config.policy_len)
    policies, actions = jnp.asarray(flat_np), jnp.asarray(actions_np)
    n_pol = policies.shape[0]
    prune_factors = (
        default_prune_factors(model)
        if config.prune_factors is None
        else tuple(config.prune_factors)
    )
    joint_flat = policy_table(model, 1)[1][:, 0]
    n_u = joint_flat.shape[0]
    n_cont = n_pol // n_u  # continuations per first action (policies are first-action major)
    learned = learned_groups(model)
    if engine == "fast":
        infer_states, predict, policy_terms = _fast_engine(model, joint_flat, config, learned)
    else:
        infer_states, predict, policy_terms = _pymdp_engine(
            model, policies, joint_flat, config, learned
        )

    _, fsl = segments(model.num_states)
    in_prune = np.zeros(sum(model.num_states), np.float32)
    for f in prune_factors:
        in_prune[fsl[f]] = 1.0
    in_prune = jnp.asarray(in_prune)

    def prune_scores(qs, pred):
        """AIF-LLM Eq. 4 for every policy (its first action decides P(s_{t+1}|π))."""
        w = in_prune * qs
        vfe = jnp.sum(w * log_stable(qs)) - w @ log_stable(pred)
        return jnp.repeat(vfe, n_cont)

    k = n_u if config.top_k is None else config.top_k
    prune = k < n_u

    def init(D=None, C=None, lam=0.0, semantic=None) -> AgentState:
        D = _concat(jm.D if D is None else D, model.num_states, "D")
        C = _concat(jm.C if C is None else C, model.num_obs, "C")
        semantic = jnp.zeros(n_pol) if semantic is None else jnp.asarray(semantic, jnp.float32)
        return AgentState(
            prior=D,
            C=C,
            lam=jnp.asarray(lam, jnp.float32),
            semantic=semantic,
            action=jnp.full(len(model.num_controls), -1, jnp.int32),
            t=jnp.int32(0),
            pA=tuple(jnp.stack([jm.pA[m] for m in g]) for g in learned) if jm.pA else (),
        )

    def learn(state: AgentState, obs, qs) -> AgentState:
        """pA_m += lr · o_m ⊗ Q(s_deps) for every learned, observed modality m
        (``pymdp.learning.update_obs_likelihood_dirichlet_m``; o = 0 when unobserved)."""
        if not (learned and config.learn_A):
            return state
        obs = jnp.asarray(obs, jnp.int32)
        q = [qs[sl][None] for sl in fsl]  # pymdp's leading time axis (one step)
        new = []
        for g, p in zip(learned, state.pA, strict=True):
            o = jax.nn.one_hot(obs[jnp.asarray(g)], model.num_obs[g[0]])  # 0s when obs = −1

            def update(p_m, o_m, q_m, deps):
                return update_obs_likelihood_dirichlet_m(p_m, o_m[None], q_m, deps, config.lr_A)[0]

            if len(g) == 1:  # any dependencies
                new.append(update(p[0], o[0], q, list(model.A_dependencies[g[0]]))[None])
            else:  # one factor each: vmap pymdp's update over the group
                rows = jnp.stack([q[model.A_dependencies[m][0]] for m in g])
                new.append(jax.vmap(lambda a, b, c: update(a, b, [c], [0]))(p, o, rows))
        return state._replace(pA=tuple(new))

    def decide(key, state: AgentState, qs, pred):
        vfe = prune_scores(qs, pred)
        if prune:  # the K first actions of lowest AIF-LLM Eq. 4 score, with all their continuations
            _, idx = jax.lax.top_k(-vfe[::n_cont], k)
            kept = jnp.repeat(jnp.zeros(n_u, bool).at[idx].set(True), n_cont)
        else:
            kept = jnp.ones(n_pol, bool)
        prag, epis = policy_terms(qs, pred, state.C, likelihoods(state))
        sem = -state.semantic
        G = prag + epis + state.lam * sem
        q_pi = jax.nn.softmax(jnp.where(kept, -config.gamma * G, -jnp.inf))
        if config.action_selection == "deterministic":
            # G rounded to TIE_NATS: policies that tie up to float roundoff (e.g. nodes in one
            # slack bin) go to the lowest index in every compilation (jit, vmap, host loop)
            pi = jnp.argmin(jnp.where(kept, jnp.round(G / TIE_NATS), jnp.inf))
        else:
            pi = jax.random.categorical(
                key, jnp.where(kept, config.alpha * log_stable(q_pi), -jnp.inf)
            )
        action = actions[pi, 0]
        prior = pred[:, pi // n_cont]
        new_state = state._replace(prior=prior, action=action, t=state.t + 1)
        info = DecisionInfo(
            qs=qs,
            vfe=vfe,
            kept=kept,
            G=jnp.where(kept, G, jnp.inf),
            G_pragmatic=jnp.where(kept, prag, jnp.nan),
            G_epistemic=jnp.where(kept, epis, jnp.nan),
            G_semantic=sem,
            q_pi=q_pi,
            policy=pi,
        )
        return action, new_state, info

    def step(key, state: AgentState, obs):
        qs = infer_states(state.prior, obs, likelihoods(state))
        return decide(key, learn(state, obs, qs), qs, predict(qs))

    return AifAgent(
        model=model,
        config=config,
        engine=engine,
        policies=policies,
        actions=actions,
        prune_factors=prune_factors,
        init=init,
        step=jax.jit(step),
        batch_step=jax.jit(jax.vmap(step)),
        infer_states=jax.jit(infer_states),
        predict=jax.jit(predict),
        prune_scores=jax.jit(prune_scores),
        policy_terms=jax.jit(policy_terms),
        decide=jax.jit(decide),
        learn=jax.jit(learn),
        learned=learned,
    )


def _concat(vectors, sizes, what: str) -> jax.Array:
    vectors = [jnp.asarray(v, jnp.float32) for v in vectors]
    if [v.shape for v in vectors] != [(n,) for n in sizes]:
        raise ValueError(
            f"{what}: need one vector per entry with shapes "
            f"{[(n,) for n in sizes]}, got {[v.shape for v in vectors]}"
        )
    return jnp.concatenate(vectors)


def split_factors(model: GenerativeModel, flat) -> tuple:
    """Per-factor vectors of a flat (..., N) belief (``AgentState.prior``, ``info.qs``)."""
    _, sl = segments(model.num_states)
    return tuple(flat[..., s] for s in sl)


def split_modalities(model: GenerativeModel, flat) -> tuple:
    """Per-modality vectors of a flat (..., M) array such as ``AgentState.C``."""
    _, sl = segments(model.num_obs)
    return tuple(flat[..., s] for s in sl)


def with_semantic(state: AgentState, scores, lam=None) -> AgentState:
    """Set the per-policy semantic scores (and optionally λ) of AIF-LLM Eq. 5's hook.

    ``scores`` (P,) — e.g. cosine similarity of each policy's predicted-state embedding
    with v_pref; higher = better aligned, entering G as −λ·scores.
    """
    scores = jnp.asarray(scores, jnp.float32)
    if scores.shape != state.semantic.shape:
        raise ValueError(
            f"semantic scores: shape {scores.shape}, expected "
            f"{state.semantic.shape} (one per policy)"
        )
    lam = state.lam if lam is None else jnp.asarray(lam, jnp.float32)
    return state._replace(semantic=scores, lam=lam)


def with_prior(model: GenerativeModel, state: AgentState, D) -> AgentState:
    """Replace the belief prior for the next observation (e.g. D_LLM, AIF-LLM Eq. 3).

    ``D``: one probability vector per factor, in ``model.factor_names`` order.
    """
    return state._replace(prior=_concat(D, model.num_states, "prior D"))


def with_preferences(model: GenerativeModel, state: AgentState, C) -> AgentState:
    """Replace the log-preferences C (e.g. with a refitted EVT penalty), one per modality."""
    return state._replace(C=_concat(C, model.num_obs, "preferences C"))
