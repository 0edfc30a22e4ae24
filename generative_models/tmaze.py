"""The T-maze: a two-factor teaching model for epistemic vs pragmatic value.

The agent starts in the centre of a T. One arm pays (reward), the other costs (loss);
which one is the hidden context. A cue location reveals the context with probability
``cue_validity`` (0.5 = uninformative). Factors: location (moved by the action "go to")
and context (fixed). Modalities: location (exact), cue, reward. With an informative cue,
a horizon-1 agent first visits the cue (information gain ln 2, no risk), then exploits::

    A[cue][o, loc, ctx]     = validity-weighted cue at loc = cue, "none" elsewhere
    A[reward][o, loc, ctx]  = reward w.p. reward_prob in the context's arm, else loss;
                              "none" off the arms
    B[location][l', l, u]   = 1[l' = u];   B[context] = I
    C[reward]               = (0, reward, loss);   D = (centre, uniform context)
"""

import numpy as np

from .base import GenerativeModel, validate

LOCATIONS = ("centre", "cue", "left", "right")
CONTEXTS = ("left-better", "right-better")


def build_tmaze(
    cue_validity: float = 1.0, reward_prob: float = 0.98, reward: float = 2.0, loss: float = -4.0
) -> GenerativeModel:
    """The T-maze ``GenerativeModel`` (see module docstring)."""
    if not 0.0 <= cue_validity <= 1.0 or not 0.0 <= reward_prob <= 1.0:
        raise ValueError("cue_validity and reward_prob: must lie in [0, 1]")
    return cue_and_arms_model(
        LOCATIONS,
        CONTEXTS,
        cue_validity,
        arm_probs=((reward_prob, 1.0 - reward_prob), (1.0 - reward_prob, reward_prob)),
        preferences=(reward, loss),
        factor_names=("location", "context"),
        modality_names=("location", "cue", "reward"),
        cue_levels=("cue-left", "cue-right"),
        outcome_levels=("reward", "loss"),
    )


def cue_and_arms_model(
    locations: tuple[str, ...],
    contexts: tuple[str, ...],
    cue_validity: float,
    arm_probs,
    preferences: tuple[float, float],
    factor_names: tuple,
    modality_names: tuple,
    cue_levels: tuple,
    outcome_levels: tuple,
) -> GenerativeModel:
    """The T-maze layout with other labels and arm probabilities (shared with
    ``teaching.build_offload_toy``): locations (start, cue, arm 1, arm 2) moved by "go",
    two fixed contexts; ``arm_probs[k][ctx]`` = P(good outcome) in arm k + 1 under context
    ctx; ``preferences`` = C of (good, bad); the outcome is "none" off the arms."""
    n_loc, n_ctx = len(locations), len(contexts)
    a_loc = np.eye(n_loc)[:, :, None].repeat(n_ctx, axis=2)
    a_cue = np.zeros((3, n_loc, n_ctx))
    a_cue[0] = 1.0
    a_cue[:, 1, 0] = (0.0, cue_validity, 1.0 - cue_validity)
    a_cue[:, 1, 1] = (0.0, 1.0 - cue_validity, cue_validity)
    a_out = np.zeros((3, n_loc, n_ctx))
    a_out[0, :2] = 1.0
    for arm, probs in zip((2, 3), arm_probs, strict=True):
        for ctx, p in enumerate(probs):
            a_out[:, arm, ctx] = (0.0, p, 1.0 - p)
    b_loc = np.zeros((n_loc, n_loc, n_loc))
    for u in range(n_loc):
        b_loc[u, :, u] = 1.0
    model = GenerativeModel(
        A=(a_loc, a_cue, a_out),
        B=(b_loc, np.eye(n_ctx)[..., None]),
        C=(np.zeros(n_loc), np.zeros(3), np.array([0.0, *preferences])),
        D=(np.eye(n_loc)[0], np.full(n_ctx, 1.0 / n_ctx)),
        pA=None,
        pB=None,
        A_dependencies=((0, 1), (0, 1), (0, 1)),
        B_dependencies=((0,), (1,)),
        B_action_dependencies=((0,), ()),
        num_controls=(n_loc,),
        factor_names=factor_names,
        factor_levels=(locations, contexts),
        modality_names=modality_names,
        modality_levels=(locations, ("none", *cue_levels), ("none", *outcome_levels)),
        control_names=("go",),
        control_levels=(locations,),
    )
    return validate(model)
