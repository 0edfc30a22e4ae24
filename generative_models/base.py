"""A discrete POMDP generative model in pymdp 1.0's layout, its checks and its rendering.

Layout (pymdp 1.0, single agent, no batch axis). For factor f with ``n_f`` levels and
modality m with ``n_m`` outcomes::

    A[m]  (n_m, *[n_f for f in A_dependencies[m]])          P(o_m | s_deps)       columns sum to 1
    B[f]  (n_f, *[n_d for d in B_dependencies[f]], n_u_f)   P(s_f' | s_deps, u)   columns sum to 1
    C[m]  (n_m,)                                            ln P̃(o_m), log-preferences
    D[f]  (n_f,)                                            P(s_f) at t = 0

Actions: every model here has explicit ``B_action_dependencies`` (which control factors each
B depends on) and ``num_controls`` (levels of each control factor). ``B[f]``'s last axis is
the flattened action of its control factors (size 1 for a factor no action moves), so
``B[f][..., u]`` is always valid; ``pymdp_B`` gives the form ``pymdp.agent.Agent`` expects.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

NORM_TOL = 1e-4
"""Columns of A and B must sum to 1 within this absolute tolerance (float32 arithmetic)."""


class GenerativeModel(NamedTuple):
    """Immutable container of a discrete POMDP (shapes in the module docstring).

    A, B, C, D: tuples of arrays. pA, pB: Dirichlet concentrations with the shapes of A and
    B (``None`` when the model has none), for ``pymdp`` parameter learning.
    A_dependencies[m]: factors modality m depends on. B_dependencies[f]: factors s_f'
    depends on (always including f itself, as pymdp requires).
    B_action_dependencies[f]: control factors that move factor f (``()`` for none).
    num_controls[c]: number of actions of control factor c.
    factor_names[f], factor_levels[f][i]: names of factors and their levels.
    modality_names[m], modality_levels[m][o]: names of modalities and their outcomes.
    control_names[c], control_levels[c][u]: names of control factors and their actions.
    options: the builder's settings the model was made with (``aif_llm_model.ModelOptions``),
    None for a model written by hand.
    """

    A: tuple
    B: tuple
    C: tuple
    D: tuple
    pA: tuple | None
    pB: tuple | None
    A_dependencies: tuple
    B_dependencies: tuple
    B_action_dependencies: tuple
    num_controls: tuple
    factor_names: tuple
    factor_levels: tuple
    modality_names: tuple
    modality_levels: tuple
    control_names: tuple
    control_levels: tuple
    options: Any = None

    @property
    def num_states(self) -> tuple[int, ...]:
        return tuple(len(levels) for levels in self.factor_levels)

    @property
    def num_obs(self) -> tuple[int, ...]:
        return tuple(len(levels) for levels in self.modality_levels)

    def factor_index(self, name: str) -> int:
        """Index of the factor called ``name``; ``ValueError`` listing the names otherwise."""
        return _index(self.factor_names, name, "factor")

    def modality_index(self, name: str) -> int:
        """Index of the modality called ``name``; ``ValueError`` listing the names otherwise."""
        return _index(self.modality_names, name, "modality")


def _index(names: Sequence[str], name: str, what: str) -> int:
    if name not in names:
        raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(names)}")
    return list(names).index(name)


def _check_distribution(arr: np.ndarray, what: str, labels: Sequence[str]) -> None:
    """Non-negative, finite, columns (axis 0) summing to 1; ``ValueError`` otherwise."""
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: has non-finite entries; pass finite probabilities")
    if np.any(arr < 0):
        col = np.argwhere(arr < 0)[0]
        raise ValueError(
            f"{what}: negative entry {arr[tuple(col)]:.3g} at index {tuple(col)}; "
            "probabilities must be ≥ 0"
        )
    sums = arr.sum(axis=0)
    fix = f"normalise over axis 0 (the {len(labels)} levels {', '.join(labels)})"
    if arr.ndim == 1:
        if abs(sums - 1.0) > NORM_TOL:
            raise ValueError(f"{what}: sums to {sums:.6g}, not 1; {fix}")
        return
    bad = np.argwhere(np.abs(sums - 1.0) > NORM_TOL)
    if bad.size:
        col = tuple(int(i) for i in bad[0])
        raise ValueError(f"{what}: column {col} sums to {sums[col]:.6g}, not 1; {fix}")


def validate(model: GenerativeModel) -> GenerativeModel:
    """Check shapes, signs and normalisation; return ``model`` or raise ``ValueError``.

    The message names the modality or factor, the offending column and the fix.
    """
    ns, no = model.num_states, model.num_obs
    n_fac, n_mod = len(ns), len(no)
    for field, size, kind in (
        ("A", n_mod, "modality"),
        ("C", n_mod, "modality"),
        ("A_dependencies", n_mod, "modality"),
        ("B", n_fac, "factor"),
        ("D", n_fac, "factor"),
        ("B_dependencies", n_fac, "factor"),
        ("B_action_dependencies", n_fac, "factor"),
    ):
        if len(getattr(model, field)) != size:
            raise ValueError(
                f"{field}: has {len(getattr(model, field))} entries but the model "
                f"has {size} {kind} names; give one per {kind}"
            )
    for m, name in enumerate(model.modality_names):
        deps = model.A_dependencies[m]
        if not deps or any(not 0 <= d < n_fac for d in deps):
            raise ValueError(
                f"A_dependencies[{m}] ({name}): {deps} must list factors in 0..{n_fac - 1}"
            )
        want = (no[m], *(ns[d] for d in deps))
        a = np.asarray(model.A[m])
        if a.shape != want:
            raise ValueError(
                f"A[{m}] ({name}): shape {a.shape}, expected {want} = (outcomes, "
                f"{', '.join(model.factor_names[d] for d in deps)}); fix the shape"
            )
        _check_distribution(a, f"A[{m}] ({name})", model.modality_levels[m])
        if np.shape(model.C[m]) != (no[m],):
            raise ValueError(f"C[{m}] ({name}): shape {np.shape(model.C[m])}, expected ({no[m]},)")
        if not np.all(np.isfinite(np.asarray(model.C[m]))):
            raise ValueError(f"C[{m}] ({name}): has non-finite entries; use finite log-preferences")
    for f, name in enumerate(model.factor_names):
        deps = model.B_dependencies[f]
        if f not in deps or any(not 0 <= d < n_fac for d in deps):
            raise ValueError(
                f"B_dependencies[{f}] ({name}): {deps} must include {f} itself and "
                f"list factors in 0..{n_fac - 1}"
            )
        acts = model.B_action_dependencies[f]
        n_ctrl = len(model.num_controls)
        if any(not isinstance(c, int) or not 0 <= c < n_ctrl for c in acts):
            raise ValueError(
                f"B_action_dependencies[{f}] ({name}): {acts} must list control factors "
                f"in 0..{n_ctrl - 1}"
            )
        n_u = int(np.prod([model.num_controls[c] for c in acts])) if acts else 1
        want = (ns[f], *(ns[d] for d in deps), n_u)
        b = np.asarray(model.B[f])
        if b.shape != want:
            raise ValueError(
                f"B[{f}] ({name}): shape {b.shape}, expected {want} = (next, "
                f"{', '.join(model.factor_names[d] for d in deps)}, actions); fix "
                "the shape"
            )
        _check_distribution(b, f"B[{f}] ({name})", model.factor_levels[f])
        d = np.asarray(model.D[f])
        if d.shape != (ns[f],):
            raise ValueError(f"D[{f}] ({name}): shape {d.shape}, expected ({ns[f]},)")
        _check_distribution(d, f"D[{f}] ({name})", model.factor_levels[f])
    for label, arrs, ref in (("pA", model.pA, model.A), ("pB", model.pB, model.B)):
        if arrs is None:
            continue
        for i, (p, r) in enumerate(zip(arrs, ref, strict=True)):
            if p is None:  # not learnable
                continue
            if np.shape(p) != np.shape(r) or not np.all(np.asarray(p) >= 0):  # NaN fails too
                raise ValueError(
                    f"{label}[{i}]: must be finite, ≥ 0, with the shape {np.shape(r)} of "
                    f"{label[1]}[{i}]"
                )
            if not np.all(np.isfinite(np.asarray(p))):
                raise ValueError(f"{label}[{i}]: has non-finite counts; use finite values ≥ 0")
    if len(model.control_levels) != len(model.num_controls) or any(
        len(lv) != n for lv, n in zip(model.control_levels, model.num_controls, strict=True)
    ):
        raise ValueError(
            "control_levels: need one label per action of each control factor "
            f"(num_controls = {model.num_controls})"
        )
    return model


def single_control_model(
    A: Sequence,
    B: Sequence,
    C: Sequence,
    D: Sequence,
    deps: tuple[Sequence, Sequence, Sequence],
    factors: tuple[Sequence, Sequence],
    modalities: tuple[Sequence, Sequence],
    control: tuple[str, Sequence[str]],
    *,
    pA: Sequence | None = None,
    pB: Sequence | None = None,
    options: Any = None,
) -> GenerativeModel:
    """The ``validate``d ``GenerativeModel`` of a builder with one control factor.

    deps: (A_dependencies, B_dependencies, B_action_dependencies); factors and modalities:
    (names, levels); control: (name, levels) of the control factor; lists become tuples."""
    (a_deps, b_deps, b_acts), (f_names, f_levels), (m_names, m_levels) = deps, factors, modalities
    name, levels = control
    model = GenerativeModel(
        A=tuple(A),
        B=tuple(B),
        C=tuple(C),
        D=tuple(D),
        pA=None if pA is None else tuple(pA),
        pB=None if pB is None else tuple(pB),
        A_dependencies=tuple(a_deps),
        B_dependencies=tuple(b_deps),
        B_action_dependencies=tuple(b_acts),
        num_controls=(len(levels),),
        factor_names=tuple(f_names),
        factor_levels=tuple(f_levels),
        modality_names=tuple(m_names),
        modality_levels=tuple(m_levels),
        control_names=(name,),
        control_levels=(tuple(levels),),
        options=options,
    )
    return validate(model)


def pymdp_B(model: GenerativeModel) -> list:
    """B as ``pymdp.agent.Agent`` takes it with ``B_action_dependencies``: factors that no
    action moves lose their trailing size-1 action axis."""
    return [
        b if acts else b[..., 0]
        for b, acts in zip(model.B, model.B_action_dependencies, strict=True)
    ]


def describe(model: GenerativeModel, top: int = 3) -> str:
    """Plain-text summary: factors, modalities, controls, dependencies, C and D."""
    lines = ["Hidden-state factors:"]
    for f, name in enumerate(model.factor_names):
        deps = ", ".join(model.factor_names[d] for d in model.B_dependencies[f])
        acts = ", ".join(model.control_names[c] for c in model.B_action_dependencies[f]) or "-"
        d = np.asarray(model.D[f])
        best = ", ".join(
            f"{model.factor_levels[f][i]} {d[i]:.2f}" for i in np.argsort(-d, kind="stable")[:top]
        )
        lines.append(
            f"  [{f}] {name} ({len(model.factor_levels[f])}: "
            f"{_short(model.factor_levels[f])})  B|{deps}; moved by {acts}; D: {best}"
        )
    lines.append("Observation modalities:")
    for m, name in enumerate(model.modality_names):
        deps = ", ".join(model.factor_names[d] for d in model.A_dependencies[m])
        c = np.asarray(model.C[m])
        pref = ", ".join(
            f"{lv} {v:+.2f}" for lv, v in zip(model.modality_levels[m], c, strict=True)
        )
        lines.append(f"  [{m}] {name}  A|{deps};  C: {pref}")
    lines.append("Control factors:")
    for c, name in enumerate(model.control_names):
        lines.append(f"  [{c}] {name} ({model.num_controls[c]}: {_short(model.control_levels[c])})")
    n_par = sum(int(np.size(a)) for a in model.A) + sum(int(np.size(b)) for b in model.B)
    lines.append(
        f"{len(model.factor_names)} factors, {len(model.modality_names)} modalities, "
        f"{n_par} A/B entries"
    )
    return "\n".join(lines)


def _short(levels: Sequence[str], n: int = 6) -> str:
    shown = ", ".join(levels[:n])
    return shown + (f", … (+{len(levels) - n})" if len(levels) > n else "")


def as_jax(model: GenerativeModel) -> GenerativeModel:
    """The same model with every array as a float32 ``jax.Array``."""

    def conv(arrs):
        if arrs is None:
            return None
        return tuple(None if a is None else jnp.asarray(a, jnp.float32) for a in arrs)

    return model._replace(
        A=conv(model.A),
        B=conv(model.B),
        C=conv(model.C),
        D=conv(model.D),
        pA=conv(model.pA),
        pB=conv(model.pB),
    )
