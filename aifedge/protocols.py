"""The two agent interfaces of aifedge, as pure-function tuples (blackjax's
``SamplingAlgorithm(init, step)`` style): a ``Policy`` acts in a single-agent env, a
``Learner`` acts and learns in the multi-agent ``ucb-coma`` env.

The call signatures are ``Protocol`` classes, so a type checker checks a function passed as
``init``/``act``/... against them; states, observations and params are env-specific pytrees.
"""

from typing import Any, NamedTuple, Protocol

import jax

PolicyState = Any
"""A policy's state: any pytree (``()`` for a stateless heuristic)."""


class PolicyInit(Protocol):
    def __call__(self, key: jax.Array, params: Any, /) -> PolicyState: ...


class PolicyAct(Protocol):
    def __call__(
        self, key: jax.Array, state: PolicyState, obs: Any, params: Any, /
    ) -> tuple[jax.Array, PolicyState]: ...


class Policy(NamedTuple):
    """``init(key, params) -> state``; ``act(key, state, obs, params) -> (action, state)``.

    Both pure, so stateful agents (active inference) and stateless heuristics share one
    jitted, vmapped rollout (``environments.rollout``).
    """

    init: PolicyInit
    act: PolicyAct


class LearnerInit(Protocol):
    def __call__(self, key: jax.Array, params: Any, cfg: Any, n_episodes: int, /) -> Any: ...


class LearnerAct(Protocol):
    def __call__(
        self, key: jax.Array, state: Any, obs: Any, params: Any, cfg: Any, explore: bool, /
    ) -> jax.Array: ...


class LearnerObserve(Protocol):
    def __call__(
        self, key: jax.Array, state: Any, transition: Any, params: Any, cfg: Any, /
    ) -> Any: ...


class LearnerEndEpisode(Protocol):
    def __call__(self, key: jax.Array, state: Any, params: Any, cfg: Any, /) -> Any: ...


class Learner(NamedTuple):
    """Pure functions of a multi-agent learner; ``cfg`` and ``params`` are static (hashable).

    init(key, params, cfg, n_episodes) -> state
    act(key, state, obs, params, cfg, explore: bool) -> actions (I,)
    observe(key, state, transition, params, cfg) -> state       (after every env step)
    end_episode(key, state, params, cfg) -> state               (after every episode)
    config: the learner's frozen config class.
    """

    init: LearnerInit
    act: LearnerAct
    observe: LearnerObserve
    end_episode: LearnerEndEpisode
    config: type
