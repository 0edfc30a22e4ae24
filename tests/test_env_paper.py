"""Scenario ``paper`` of the aif-llm simulator (issue #17): hand computations, conservation,
statistical checks against analytic values and scipy, and v1 left unchanged."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aifedge.baselines import greedy
from aifedge.baselines.reference import oracle_action
from aifedge.config import ConfigError
from aifedge.environments import SCENARIOS, aif_llm, batch_rollout, episode_metrics, stateless
from aifedge.environments import aif_llm_paper as P
from aifedge.simulate import episode_keys, get_policy, simulate

STEP = jax.jit(P.step, static_argnums=3)
RESET = jax.jit(P.reset, static_argnums=1)

# Deterministic latencies: no spikes, no observation noise, no failures unless placed. One
# parameter set for the step-by-step tests, so ``STEP`` compiles once.
QUIET = P.make_params(base_spike_prob=0.0, obs_noise=0.0, hazard=1e-4, rho=1.5, max_steps=300)


def _slot_state(params, n=3, seed=0):
    """A state at the start of a slot with ``n`` undecided, non-private, loose tasks."""
    _, s = RESET(jax.random.PRNGKey(seed), params)
    hidden = s.hidden._replace(
        private=jnp.zeros_like(s.hidden.private),
        deadline_ms=jnp.full_like(s.hidden.deadline_ms, 1e6),
        kv_mb=jnp.zeros_like(s.hidden.kv_mb),
    )
    return s._replace(hidden=hidden, n_tasks=jnp.int32(n), idx=jnp.int32(0), wan=jnp.int32(0))


@pytest.mark.slow
def test_every_task_is_decided_exactly_once_with_several_per_slot():
    params = QUIET
    _, s = RESET(jax.random.PRNGKey(3), params)
    seen, per_slot = [], {}
    for i in range(params.max_steps):
        slot, idx, n = int(s.slot), int(s.idx), int(s.n_tasks)
        assert 0 <= idx < n <= params.max_tasks_per_slot
        seen.append((slot, idx))
        per_slot[slot] = n
        _, s, _, done, info = STEP(jax.random.PRNGKey(100 + i), s, i % params.n_nodes, params)
        assert int(info.outcome) in (P.MET, P.VIOLATED, P.FAILED)
        assert bool(done) == (i + 1 == params.max_steps)
    assert len(set(seen)) == len(seen)  # no task decided twice
    slots = sorted(per_slot)
    for slot in slots[:-1]:  # every arrived task of a finished slot was decided, in order
        assert [i for sl, i in seen if sl == slot] == list(range(per_slot[slot]))
    assert max(per_slot.values()) > 1  # several tasks per slot did occur
    assert [sl for sl, _ in seen] == sorted(sl for sl, _ in seen)  # arrival order


def test_shared_fifo_uplink_delay_matches_hand_computation():
    params = QUIET
    s = _slot_state(params)
    s = s._replace(uplink_free_ms=s.now_ms + 50.0)
    cloud = params.n_nodes - 1
    bw = params.uplink_mbps  # good WAN state
    t0, t1 = (jax.tree.map(lambda x, i=i: float(x[i]), s.tasks) for i in (0, 1))
    c0, c1 = (float(s.hidden.compute_gflop[i]) for i in (0, 1))
    up0 = 8 * t0.data_in_mb / bw * 1000
    up1 = 8 * t1.data_in_mb / bw * 1000
    comp = lambda c: c / params.cloud_gflops * 1000  # noqa: E731
    _, s1, _, _, info0 = STEP(jax.random.PRNGKey(1), s, cloud, params)
    _, _, _, _, info1 = STEP(jax.random.PRNGKey(2), s1, cloud, params)
    np.testing.assert_allclose(float(info0.latency_ms), 50 + up0 + 80 + comp(c0), rtol=1e-5)
    np.testing.assert_allclose(float(info1.latency_ms), 50 + up0 + up1 + 80 + comp(c1), rtol=1e-5)
    np.testing.assert_allclose(float(s1.uplink_free_ms), float(s.now_ms) + 50 + up0, rtol=1e-6)


def test_failure_kills_exactly_the_tasks_running_or_queued_on_that_node():
    params = QUIET
    s = _slot_state(params)
    e, node = 2, 3  # edge index 2 = action 3
    now = float(s.now_ms)
    s = s._replace(free_ms=s.free_ms.at[e].set(now), t_deg=s.t_deg.at[e].set(1e9))
    f = params.edge_gflops[e]
    access = params.edge_access_ms + 8 * np.asarray(s.tasks.data_in_mb) / 100 * 1000
    comp = np.asarray(s.hidden.compute_gflop) / f * 1000
    finish0 = now + access[0] + comp[0]
    finish1 = max(now + access[1], finish0) + comp[1]
    s = s._replace(t_fail=s.t_fail.at[e].set((finish0 + finish1) / 2))  # during task 1
    outcomes, killed = [], []
    other = params.n_nodes - 1  # task 2 goes to the cloud: untouched by the edge failure
    for i, a in enumerate((node, node, other)):
        _, s, _, _, info = STEP(jax.random.PRNGKey(i), s, a, params)
        outcomes.append(int(info.outcome))
        killed.append(bool(info.killed))
    assert outcomes[0] != P.FAILED and outcomes[1] == P.FAILED and outcomes[2] != P.FAILED
    assert killed == [False, True, False]
    # The failure is applied at the next slot start past t_fail: node down, queue empty.
    while float(s.now_ms) < (finish0 + finish1) / 2:
        _, s, _, _, _ = STEP(jax.random.PRNGKey(9), s, 0, params)
    assert not bool(s.up[e])
    assert float(s.free_ms[e]) == pytest.approx(float(s.now_ms))


def test_a_failure_is_observed_exactly_detect_delay_slots_late():
    params = QUIET
    s = _slot_state(params)
    e, fail_at = 1, float(s.now_ms) + 50.0
    s = s._replace(t_fail=s.t_fail.at[e].set(fail_at), t_deg=s.t_deg.at[e].set(fail_at - 1))
    first_down, seen = int(s.slot) + 1, {}  # the failure is applied at the next slot start
    obs = P._observe(jax.random.PRNGKey(0), s, params)
    for i in range(200):
        seen.setdefault(int(s.slot), (float(obs.up[e]), float(obs.telemetry[e])))
        if int(s.slot) > first_down + params.detect_delay:
            break
        obs, s, _, _, _ = STEP(jax.random.PRNGKey(i), s, 0, params)
    for slot, (up, telemetry) in seen.items():
        hidden_yet = slot < first_down + params.detect_delay
        assert up == float(hidden_yet), slot
        assert (telemetry > 0) == hidden_yet, slot  # no reading once seen down, hot before
    assert first_down in seen and any(up == 0 for up, _ in seen.values())


def test_private_task_fails_in_the_cloud_and_not_on_the_edge():
    params = QUIET
    s = _slot_state(params)
    private = s._replace(hidden=s.hidden._replace(private=s.hidden.private.at[0].set(True)))
    cloud = params.n_nodes - 1
    assert int(STEP(jax.random.PRNGKey(0), private, cloud, params)[4].outcome) == P.FAILED
    assert int(STEP(jax.random.PRNGKey(0), s, cloud, params)[4].outcome) != P.FAILED
    assert int(STEP(jax.random.PRNGKey(0), private, 0, params)[4].outcome) != P.FAILED


def test_observed_queue_lags_the_true_queue_by_exactly_the_configured_slots():
    params, lag = QUIET, QUIET.telemetry_lag
    assert lag == 2
    obs, s = RESET(jax.random.PRNGKey(5), params)
    true, seen = {}, {}
    for i in range(200):
        true[int(s.slot)] = np.asarray(s.queue_hist[0])
        seen[int(s.slot)] = np.asarray(obs.queue_ms)
        obs, s, _, _, _ = STEP(jax.random.PRNGKey(i), s, 0, params)
    pairs = [(sl, sl - lag) for sl in seen if sl - lag in true]
    assert len(pairs) >= 15
    for now, then in pairs:
        np.testing.assert_allclose(seen[now], true[then], rtol=1e-6)
    # and not the current one (queues move between slots)
    assert any(not np.allclose(seen[a], true[a]) for a, _ in pairs)


@pytest.mark.slow
def test_arrivals_match_the_stationary_rate_and_burst_fraction():
    """MMPP per slot: P(burst) = enter/(enter+leave); E[n] = Σ_z π_z E[min(Pois(λ_z), K)].
    Tolerance: 4 standard errors across 256 independent chains (started stationary)."""
    params = P.make_params(stress_load_mult=1.0, max_tasks_per_slot=6, rho=1.2)
    _, s0 = RESET(jax.random.PRNGKey(0), params)

    @jax.jit
    @jax.vmap
    def chain(key):
        k0, k1 = jax.random.split(key)
        burst = (jax.random.uniform(k0) < P.burst_fraction(params)).astype(jnp.int32)

        def body(s, k):
            s = P._advance_slot(k, s, params)
            return s, (s.n_tasks, s.burst)

        _, (n, b) = jax.lax.scan(body, s0._replace(burst=burst), jax.random.split(k1, 200))
        return n.mean(), b.mean()

    n, b = (np.asarray(x) for x in chain(jax.random.split(jax.random.PRNGKey(1), 256)))
    pi_b = P.burst_fraction(params)
    k = params.max_tasks_per_slot

    def capped_mean(lam):
        j = np.arange(k)
        return float(np.sum(j * stats.poisson.pmf(j, lam)) + k * stats.poisson.sf(k - 1, lam))

    lam_c, lam_b = params.rate_calm, params.rate_calm * params.burst_mult
    expected = (1 - pi_b) * capped_mean(lam_c) + pi_b * capped_mean(lam_b)
    se = lambda x: x.std(ddof=1) / np.sqrt(x.size)  # noqa: E731
    assert abs(b.mean() - pi_b) < 4 * se(b)
    assert abs(n.mean() - expected) < 4 * se(n)


def test_spikes_follow_a_gpd_whose_scale_grows_with_output_tokens():
    """KS test against scipy's genpareto(ζ = 1.5, σ = spike_ms_per_token · tokens), α = 0.01."""
    params = P.make_params(base_spike_prob=1.0)
    for seed, tokens in enumerate((20.0, 200.0)):
        x = P.sample_spike(jax.random.PRNGKey(seed), jnp.full(4000, tokens), params)
        ref = stats.genpareto(c=1.5, scale=params.spike_ms_per_token * tokens)
        assert stats.kstest(np.asarray(x, np.float64), ref.cdf).pvalue > 0.01
    off = P.make_params(base_spike_prob=0.0)
    assert (
        float(jnp.abs(P.sample_spike(jax.random.PRNGKey(0), jnp.full(100, 50.0), off)).max()) == 0
    )


@pytest.mark.slow
def test_v1_scenario_is_aif_llm_byte_for_byte():
    params = SCENARIOS["v1"].make_params()
    assert SCENARIOS["v1"] is aif_llm and params == aif_llm.EnvParams()
    frame = simulate("aif-llm", "greedy", 4, 7, params, progress=False)
    keys = episode_keys(7, 0, 4)
    infos = batch_rollout(keys, stateless(greedy), aif_llm.make_params(), 100, aif_llm)
    direct = episode_metrics(infos.outcome, infos.latency_ms)
    for name in ("qos", "latency_ms", "tcr"):
        np.testing.assert_array_equal(frame[name].to_numpy(), np.asarray(direct[name]))


@pytest.mark.slow
def test_oracle_qos_at_least_greedys_on_every_seed():
    """Same keys, so both see the same arrivals (common random numbers); 8 episodes a seed."""
    params = P.make_params(max_steps=200)
    oracle = get_policy("oracle", "aif-llm", params)

    @jax.jit
    def qos(keys):
        return [
            episode_metrics(
                *(lambda i: (i.outcome, i.latency_ms))(
                    batch_rollout(keys, pol, params, params.max_steps, P)
                )
            )["qos"]
            for pol in (stateless(greedy), oracle)
        ]

    for seed in (0, 1, 2):
        q_greedy, q_oracle = qos(episode_keys(seed, 0, 8))
        assert float(q_oracle.mean()) >= float(q_greedy.mean()), seed


def test_oracle_field_is_the_true_outcome_model():
    """Without spikes, P(met) is 1 exactly where the dispatched task is met."""
    params = QUIET
    obs, s = RESET(jax.random.PRNGKey(4), params)
    for i in range(60):
        a = i % params.n_nodes
        p_met = float(obs.oracle[a, 0])
        obs, s, _, _, info = STEP(jax.random.PRNGKey(i), s, a, params)
        assert p_met == float(int(info.outcome) == P.MET)
    assert int(oracle_action(obs)) in range(params.n_nodes)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"rho": -1.0}, "rho"),
        ({"tightness": 0.0}, "tightness"),
        ({"type_probs": (1.0, 0.0)}, "type_probs"),
        ({"edge_kv_mb": (1.0, 2.0)}, "edge_kv_mb"),
        ({"private_prob": (2.0, 0, 0, 0, 0, 0)}, "private_prob"),
        ({"wan_transition": ((1.0, 0.0, 0.0),) * 3}, "wan_transition"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_config_raises_config_error_naming_the_field(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        P.make_params(**overrides)


def test_knobs_derive_their_fields():
    base = P.make_params()
    p = P.params_from_knobs(rho=0.45, hazard=2.0, tail=2.0, tightness=1.5)
    assert p.rate_calm == pytest.approx(base.rate_calm / 2)
    assert p.mean_ok_s == pytest.approx(base.mean_ok_s / 2)
    assert p.spike_prob == pytest.approx(2 * base.spike_prob)
    np.testing.assert_allclose(p.deadline_ms, 1.5 * np.asarray(base.base_deadline_ms))
    assert P.make_params(rho=0.45) == P.params_from_knobs(rho=0.45)


def test_a_derived_field_must_agree_with_its_knob():
    """A recorded config (every field) reloads; a hand-set derived field that disagrees with
    its knob is refused, naming the knob (it was silently overwritten before)."""
    p = P.make_params(tightness=2.0)
    assert P.make_params(**p._asdict()) == p
    with pytest.raises(ConfigError, match="deadline_ms: derived from the knob tightness"):
        P.make_params(deadline_ms=(900.0,) * len(p.deadline_ms))
    with pytest.raises(ConfigError, match="spike_prob: derived from the knob tail"):
        P.make_params(tail=2.0, spike_prob=0.5 * p.spike_prob)


@pytest.mark.slow
def test_gym_wrapper_exposes_the_flat_paper_observation():
    from aifedge.environments.gym_wrapper import AifLlmEnv

    params = QUIET
    env = AifLlmEnv(params)
    flat, info = env.reset(seed=0)
    assert flat.shape == (P.obs_dim(params),) == env.observation_space.shape
    np.testing.assert_allclose(flat, np.asarray(P.flatten_obs(info["obs"], params)), rtol=1e-6)
    for _ in range(5):
        flat, _, _, _, info = env.step(params.n_nodes - 1)
        assert env.observation_space.contains(flat)
        np.testing.assert_allclose(flat, np.asarray(P.flatten_obs(info["obs"], params)), rtol=1e-6)
    assert "oracle" in info["obs"]._fields


def _cli(args, capsys):
    from aifedge.cli import main

    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.slow
def test_cli_compare_on_scenario_paper_with_config(tmp_path, capsys):
    import json

    cfg = tmp_path / "paper.toml"
    cfg.write_text("rho = 0.5\ntightness = 2.0\n")
    out = tmp_path / "run"
    args = ["compare", "--scenario", "paper", "--policies", "greedy,oracle", "--episodes", "2"]
    code, _, err = _cli([*args, "--steps", "30", "--config", str(cfg), "--out", str(out)], capsys)
    assert code in (0, None), err
    record = json.loads((out / "summary.json").read_text())
    assert record["scenario"] == "paper" and record["config"]["rho"] == 0.5
    assert record["config"]["rate_calm"] == pytest.approx(P.make_params(rho=0.5).rate_calm)
    assert set(record["summary"]) == {"greedy", "oracle"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "--policy", "oracle"], "--policy oracle"),
        (["simulate", "--policy", "mpc"], "--policy mpc"),  # aif runs on paper since pagent
        (
            ["simulate", "--scenario", "paper", "--env", "he2024", "--policy", "random"],
            "--scenario",
        ),
    ],
)
def test_cli_scenario_errors_are_one_line(args, needle, tmp_path, capsys):
    code, _, err = _cli([*args, "--episodes", "1", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and err.startswith("aifedge: error:") and needle in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_calibration_admits_points_that_bracket_the_sac_target():
    from aifedge.paper_repro import calibration as cal

    def trial(method, hazard, qc, tcr):
        return {"stage": "surrogate", "method": method, "rho": 0.9, "hazard": hazard,
                "tail": 1.0, "tightness": 2.0, "episodes": 32, "qos": qc, "qos_completed": qc,
                "tcr": tcr, "latency_ms": 450.0}  # fmt: skip

    trials = pd.DataFrame(
        [
            trial("greedy", 1.0, 85.0, 88.0),  # brackets 89.67 / 91.40 with the oracle
            trial("oracle", 1.0, 93.0, 95.0),
            trial("greedy", 2.0, 95.0, 96.0),  # greedy already above the target
            trial("oracle", 2.0, 97.0, 98.0),
        ]
    )
    ranked = cal.rank_points(trials, cal.CalibrationConfig()).set_index("hazard")
    assert bool(ranked.loc[1.0, "admissible"]) and not bool(ranked.loc[2.0, "admissible"])
    assert ranked.loc[1.0, "headroom_qos"] == pytest.approx(8.0)
    mid = {"qos_completed": 89.0, "latency_ms": 450.0, "tcr": 91.5}
    assert ranked.loc[1.0, "mid_distance"] == pytest.approx(cal.distance(mid))
    assert cal.distance({k: v[0] for k, v in cal.TARGET.items()}) == 0.0


def test_calibration_freeze_writes_a_loadable_provisional_config(tmp_path):
    from aifedge.config import load_overrides
    from aifedge.paper_repro import calibration as cal

    rows = [
        {"stage": "surrogate", "method": m, "rho": 0.9, "hazard": 0.5, "tail": 2.0,
         "tightness": 2.5, "episodes": 32, "qos": q, "qos_completed": q, "tcr": q + 2,
         "latency_ms": 450.0}
        for m, q in (("greedy", 86.0), ("oracle", 93.0))
    ]  # fmt: skip
    out = tmp_path / "frozen.toml"
    got = cal.freeze(pd.DataFrame(rows), cal.CalibrationConfig(), out)
    assert "PROVISIONAL" in got["status"] and "PROVISIONAL" in out.read_text()
    knobs = load_overrides(out)
    assert knobs == {"rho": 0.9, "hazard": 0.5, "tail": 2.0, "tightness": 2.5}
    assert P.make_params(**knobs).deadline_ms[0] == pytest.approx(2.5 * 300.0)


@pytest.mark.slow
def test_calibration_surrogate_stage_writes_every_trial(tmp_path):
    import dataclasses

    from aifedge.paper_repro import calibration as cal

    cfg = dataclasses.replace(cal.QUICK, tightness=(2.0,), episodes=2, out=str(tmp_path / "t.csv"))
    trials = cal.run(cfg, "surrogate")
    assert len(trials) == 2 and list(trials.method) == ["greedy", "oracle"]
    again = cal.append_trials(cfg.out, trials)  # appended, not overwritten
    assert pd.read_csv(tmp_path / "t.csv").shape == again.shape == (4, trials.shape[1])
    assert trials.qos.between(0, 100).all() and (trials.qos <= trials.qos_completed + 1e-9).all()


def test_calibration_choose_takes_least_sac_distance_once_all_points_ran():
    from aifedge.paper_repro import calibration as cal

    def row(stage, method, hazard, q, dist=float("nan")):
        return {"stage": stage, "method": method, "rho": 0.9, "hazard": hazard, "tail": 1.0,
                "tightness": 2.0, "episodes": 32, "qos": q, "qos_completed": q, "tcr": q + 2,
                "latency_ms": 450.0, "distance": dist}  # fmt: skip

    grid = {0.5: (("greedy", 87), ("oracle", 92)), 1.0: (("greedy", 84), ("oracle", 92))}
    sur = [row("surrogate", m, h, q) for h, pair in grid.items() for m, q in pair]
    cfg = dataclasses.replace(cal.CalibrationConfig(), n_sac=2)
    one = pd.DataFrame([*sur, row("sac", "sac", 1.0, 50.0, 900.0)])
    knobs, status = cal.choose(one, cfg)  # 1 of 2 SAC points: provisional, surrogate's best
    assert "PROVISIONAL" in status and knobs["hazard"] == 0.5  # midpoint nearer the target
    two = pd.DataFrame(
        [*sur, row("sac", "sac", 1.0, 50.0, 900.0), row("sac", "sac", 0.5, 40, 1200)]
    )
    knobs, status = cal.choose(two, cfg)
    assert status == "frozen (SAC stage)" and knobs == {"rho": 0.9, "hazard": 1.0, "tail": 1.0,
                                                        "tightness": 2.0}  # fmt: skip
    assert cal._done(pd.DataFrame([knobs]), two[two.stage == "sac"]).tolist() == [True]


@pytest.mark.slow
def test_repro_calibration_quick_runs_the_whole_protocol(tmp_path, capsys):
    out = tmp_path / "cal"
    code, _, err = _cli(["repro", "calibration", "--quick", "--out", str(out)], capsys)
    assert code == 0, err
    frame = pd.read_csv(out / "calibration.csv")
    trials = pd.read_csv(out / "calibration_data.csv")
    assert frame.chosen.sum() == 1 and set(trials.stage) == {"surrogate", "sac"}
    sac = trials[trials.stage == "sac"]
    assert len(sac) == 1 and sac.sac_steps.iloc[0] == 800  # QUICK's SAC budget
    chosen = frame[frame.chosen].iloc[0]
    assert chosen.sac_distance == pytest.approx(sac.distance.iloc[0])
