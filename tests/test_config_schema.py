"""One config schema for every simulator and repro config (``aifedge.config.check_like``):
types, finiteness and shapes refused with one line naming field, value and expectation;
a property test fuzzes ``make_params`` of all three envs and simulates what it accepts."""

import functools

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifedge.config import ConfigError, check_like
from aifedge.environments import ENVS, aif_llm, episode_metrics, rollout
from aifedge.environments.metrics import METRIC_NAMES
from aifedge.simulate import get_policy


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("timeout_factor", float("nan"), "timeout_factor: expected a finite number (got nan)"),
        ("jitter_sigma", float("inf"), "jitter_sigma: expected a finite number"),
        ("max_steps", True, "max_steps: expected an integer (got True)"),
        ("max_steps", 10.0, "max_steps: expected an integer"),
        ("cloud_gflops", "fast", "cloud_gflops: expected a finite number (got 'fast')"),
        ("cloud_gflops", {"a": 1}, "cloud_gflops: expected a finite number"),
        ("cloud_gflops", None, "cloud_gflops: expected a finite number (got None)"),
        ("edge_gflops", [50.0, "x"], "edge_gflops: expected a list of finite numbers"),
        ("edge_gflops", [50.0, float("nan")], "default shape (5,)"),
        ("net_transition", [[0.9, 0.1], [1.0]], "rectangular list of lists"),
        ("net_transition", [0.5, 0.5], "shape (rows, columns) like (3, 3)"),
        ("obs_noise", 10**400, "obs_noise: expected a finite number"),
    ],
)
def test_mistyped_and_non_finite_fields_are_refused(field, value, needle):
    with pytest.raises(ConfigError) as err:
        aif_llm.make_params(**{field: value})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_valid_overrides_keep_their_values():
    """Accepted values pass through unchanged (ints stay ints), so v1 configs give the
    same parameters, hence the same bytes, as before the schema."""
    p = aif_llm.make_params(
        edge_gflops=[50, 100.0], net_transition=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], max_steps=7
    )
    assert p.edge_gflops == (50, 100.0) and isinstance(p.edge_gflops[0], int)
    assert p.net_transition == ((1, 0, 0), (0, 1, 0), (0, 0, 1)) and p.max_steps == 7
    assert aif_llm.make_params() == aif_llm.EnvParams()


def test_check_like_rules():
    assert check_like("C", "n", 3, 1) == 3
    assert check_like("C", "flag", False, True) is False
    assert check_like("C", "names", ["a", "b"], ("x",)) == ("a", "b")
    assert check_like("C", "pairs", [["a", 1]], ()) == (("a", 1),)  # free-form: tuples
    for value, default in [(1, True), (True, 1), ("3", 1), (["a", 2], ("x",)), ([1.5], (1, 2))]:
        with pytest.raises(ConfigError, match=r"C\.f: expected"):
            check_like("C", "f", value, default)


# ------------------------------------------------------------------ property test
def _perturbed(default):
    """Values shaped like ``default`` with arbitrary numbers (often accepted)."""
    num = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        st.integers(-5, 2000),
        st.sampled_from([0, 1, 0.5, -1.0, 1e30]),
    )
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int | float):
        return st.one_of(num, st.just(default))
    if isinstance(default, tuple) and default and isinstance(default[0], tuple):
        return st.lists(
            st.lists(num, min_size=len(default[0]), max_size=len(default[0])),
            min_size=len(default),
            max_size=len(default),
        )
    if isinstance(default, tuple):
        return st.one_of(
            st.lists(num, min_size=len(default), max_size=len(default)),
            st.just(list(default)),
        )
    return st.just(default)


ANY = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=6,
)


@st.composite
def overrides(draw, env_id):
    defaults = ENVS[env_id].EnvParams()
    names = draw(st.lists(st.sampled_from(defaults._fields), max_size=3, unique=True))
    out = {}
    for name in names:
        hostile = draw(st.booleans())
        out[name] = draw(ANY if hostile else _perturbed(getattr(defaults, name)))
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.text(min_size=1, max_size=6))] = 1  # an unknown field, sometimes
    return out


def _leaf_dtypes(env_id, params):
    """``params`` as arrays typed by the field defaults (float32 or int32), so that every
    accepted config of one structure shares one compiled simulation."""
    defaults = ENVS[env_id].EnvParams()

    def typed(field):
        d = getattr(defaults, field)
        dtype = np.int32 if isinstance(d, int) and not isinstance(d, bool) else np.float32
        return jax.tree.map(lambda x: np.asarray(x, dtype), getattr(params, field))

    return type(params)(*(typed(f) for f in params._fields))


@functools.cache
def _simulate(env_id):
    """jitted (key, params) -> metrics of 2 episodes × 4 steps of the random policy."""
    env, policy = ENVS[env_id], get_policy("random")

    def run(key, params):
        infos = jax.vmap(lambda k: rollout(k, policy, params, 4, env))(jax.random.split(key, 2))
        return episode_metrics(infos.outcome, infos.latency_ms)

    return jax.jit(run)


def _check_finite(metrics):
    m = {k: np.asarray(v, float) for k, v in metrics.items()}
    for name in METRIC_NAMES:
        v = m[name]
        if name == "latency_ms":  # an episode with no completed task has no latency (null)
            assert np.all(np.isfinite(v) | (m["tcr"] == 0)) and np.all(np.nan_to_num(v) >= 0)
        else:
            assert np.all(np.isfinite(v) & (v >= 0) & (v <= 1)), (name, v)


def _refused_in_one_line(err: ConfigError):
    msg = str(err)
    assert msg.startswith("EnvParams") and "\n" not in msg, msg


@pytest.mark.parametrize("env_id", list(ENVS))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_configs_are_accepted_or_refused_in_one_line(env_id, data):
    """The parser alone, all three envs: a ``ConfigError`` of one line or parameters."""
    ov = data.draw(overrides(env_id))
    try:
        ENVS[env_id].make_params(**ov)
    except ConfigError as err:
        _refused_in_one_line(err)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_accepted_aif_llm_config_simulates_to_finite_metrics(data):
    ov = data.draw(overrides("aif-llm"))
    try:
        params = aif_llm.make_params(**ov)
    except ConfigError as err:
        _refused_in_one_line(err)
        return
    _check_finite(_simulate("aif-llm")(jax.random.PRNGKey(0), _leaf_dtypes("aif-llm", params)))


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["ucb-coma", "he2024"])
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_accepted_dag_and_he2024_configs_step_to_finite_states(env_id, data):
    """These envs use parameters as static shapes: one compile per config, hence slow."""
    ov = data.draw(overrides(env_id))
    try:
        params = ENVS[env_id].make_params(**ov)
    except ConfigError as err:
        _refused_in_one_line(err)
        return
    env = ENVS[env_id]
    act = np.zeros(params.n_tasks, np.int32) if env_id == "ucb-coma" else 0
    step = jax.jit(lambda k: env.step(k, env.reset(k, params)[1], act, params)[:3])
    for leaf in jax.tree_util.tree_leaves(step(jax.random.PRNGKey(0))):
        assert np.all(np.isfinite(np.asarray(leaf, float)))


# ------------------------------------------------------------------ repro configs
@pytest.mark.parametrize(
    "artifact, text, needle",
    [
        ("table3", "seeds = 0", "Config.seeds: must be an integer ≥ 1 (got 0)"),
        ("table3", 'seeds = "three"', "Config.seeds: expected an integer (got 'three')"),
        ("table3", "episodes = true", "Config.episodes: expected an integer (got True)"),
        ("table3", "eval_seed = -1", "Config.eval_seed: must be an integer in [0, 2^32"),
        ("he2024-fig4", "t_max_values = [1.0, nan]", "t_max_values: expected a list of finite"),
        ("he2024-fig3", "seeds = 0", "seeds: must be an integer ≥ 1 (got 0)"),
        ("ucbcoma-fig4", "tail = inf", "tail: expected a finite number (got inf)"),
        ("ucbcoma-fig4", 'schemes = ["ucb-coma", 3]', "schemes: expected a list of strings"),
    ],
)
def test_repro_config_files_are_checked_by_the_same_schema(
    artifact, text, needle, tmp_path, capsys
):
    from aifedge.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(text + "\n")
    assert (
        main(["repro", artifact, "--quick", "--config", str(cfg), "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("aifedge: error: --config: ") and needle in err, err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()
