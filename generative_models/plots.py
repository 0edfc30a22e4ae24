"""Heatmaps of A and B slices for notebooks and teaching (matplotlib)."""

import numpy as np

from .base import GenerativeModel


def _columns(model: GenerativeModel, deps) -> list[str]:
    labels = [""]
    for d in deps:
        labels = [f"{a},{b}" if a else b for a in labels for b in model.factor_levels[d]]
    return labels


def _heatmap(ax, mat: np.ndarray, rows, cols, title: str):
    im = ax.imshow(mat, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    ax.set_title(title)
    return im


def plot_A(model: GenerativeModel, modality: int | str, ax=None):
    """Heatmap of P(o | states) for one modality; columns = its dependencies' levels."""
    import matplotlib.pyplot as plt

    m = modality if isinstance(modality, int) else model.modality_index(modality)
    a = np.asarray(model.A[m])
    deps = model.A_dependencies[m]
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3))[1]
    given = ", ".join(model.factor_names[d] for d in deps)
    _heatmap(
        ax,
        a.reshape(a.shape[0], -1),
        model.modality_levels[m],
        _columns(model, deps),
        f"A[{model.modality_names[m]}]: P(o | {given})",
    )
    return ax


def plot_B(model: GenerativeModel, factor: int | str, action: int = 0, ax=None):
    """Heatmap of P(s' | deps, u = action) for one factor (action 0 if no action moves it)."""
    import matplotlib.pyplot as plt

    f = factor if isinstance(factor, int) else model.factor_index(factor)
    b = np.asarray(model.B[f])
    u = action if model.B_action_dependencies[f] else 0
    if not 0 <= u < b.shape[-1]:
        raise ValueError(f"action: {action} out of range 0..{b.shape[-1] - 1} for B[{f}]")
    deps = model.B_dependencies[f]
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3))[1]
    _heatmap(
        ax,
        b[..., u].reshape(b.shape[0], -1),
        model.factor_levels[f],
        _columns(model, deps),
        f"B[{model.factor_names[f]}] (u = {u})",
    )
    return ax
