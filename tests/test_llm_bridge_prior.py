"""Keyword prior D_LLM (Eq. 3) and the scheduling logs it is fitted on."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mutual_info_score

from aifedge.config import ConfigError
from aifedge.environments import aif_llm
from aifedge.environments.task_texts import TASK_TEXTS
from aifedge.generative_models.aif_llm_model import LOAD_LEVELS
from aifedge.llm_bridge.logs import load_logs, make_logs, save_logs
from aifedge.llm_bridge.prior import KeywordPrior, d_llm, d_llm_table, evidence_table, keywords


def crafted_logs() -> pd.DataFrame:
    """ "video" tasks (with varying companion words) overload the small edge 1 (load level 2
    = high) and are best sent to the cloud (6); "chat" and "batch" tasks leave it low or
    medium and are best on edges 4 / 5."""
    rows = []
    rng = np.random.default_rng(0)
    for i in range(300):
        kind = ("video", "chat", "batch")[i % 3]
        extra = ("urgent", "small", "")[int(rng.integers(3))]
        what = ("frames", "stream", "clip")[int(rng.integers(3))]
        text = {
            "video": f"video {what} {extra}",
            "chat": f"chat reply {extra}",
            "batch": f"batch job {extra}",
        }[kind].strip()
        load = 2 if kind == "video" else int(rng.integers(2))  # video -> high, else low/medium
        best = {"video": 6, "chat": 4, "batch": int(rng.choice([4, 5]))}[kind]
        rows.append({"text": text, "best_node": best, "load_e1": load})
    return pd.DataFrame(rows)


def test_keywords_analyser():
    assert keywords("Privacy-sensitive video, the real-time chat") == [
        "privacy",
        "sensitive",
        "privacy-sensitive",
        "video",
        "real",
        "time",
        "real-time",
        "chat",
    ]


def test_crafted_video_weight_largest_and_d_llm_by_hand():
    logs = crafted_logs()
    prior = KeywordPrior.fit(
        logs, factors={"load:edge1": "load_e1"}, n_levels={"load:edge1": 4}, shrinkage=10.0
    )
    w = prior.weights
    assert w.index[0] == "video" and w.iloc[0] == pytest.approx(1.0)
    assert list(w) == sorted(w, reverse=True)
    # MI against sklearn's discrete mutual information (nats).
    presence = logs.text.str.contains("video").to_numpy()
    i_video = prior.vocabulary.index("video")
    assert prior.mutual_info[i_video] == pytest.approx(
        mutual_info_score(presence, logs.best_node), rel=1e-9
    )
    # Hand computation of Eq. 3 for a "video" text, alpha = 0.7, base D uniform.
    n = len(logs)
    idf = {
        k: np.log((1 + n) / (1 + logs.text.map(lambda t, k=k: k in keywords(t)).sum())) + 1
        for k in prior.vocabulary
    }
    mi = {
        k: mutual_info_score(logs.text.map(lambda t, k=k: k in keywords(t)), logs.best_node)
        for k in prior.vocabulary
    }
    score = {k: mi[k] * idf[k] for k in prior.vocabulary}
    top = max(score.values())
    base_counts = np.bincount(logs.load_e1, minlength=4)
    p_s = (base_counts + 1) / (n + 4)
    evidence = np.zeros(4)
    text = "video frames urgent"
    for k in ("video", "frames", "urgent"):
        assert k in prior.vocabulary
        has = logs.text.map(lambda t, k=k: k in keywords(t)).to_numpy()
        n_ks = np.bincount(logs.load_e1[has], minlength=4)
        p_s_k = (n_ks + 10.0 * p_s) / (has.sum() + 10.0)
        evidence += score[k] / top * (np.log(p_s_k) - np.log(p_s))
    base = np.full(4, 0.25)
    logits = np.log(base) + 0.7 * evidence
    want = np.exp(logits - logits.max())
    want /= want.sum()
    got = d_llm(prior, text, {"load:edge1": base}, alpha=0.7)["load:edge1"]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got.sum() == pytest.approx(1.0)
    # The belief moves toward "high" for video, away from it for chat.
    assert got[LOAD_LEVELS.index("high")] > 0.5
    chat = d_llm(prior, "chat reply", {"load:edge1": base})["load:edge1"]
    assert chat[LOAD_LEVELS.index("high")] < 0.25


def test_d_llm_without_keywords_is_base_and_alpha_zero_is_base():
    prior = KeywordPrior.fit(crafted_logs(), factors={"f": "load_e1"})
    base = {"f": np.array([0.1, 0.2, 0.7]), "other": np.array([0.5, 0.5])}
    for text, alpha in (("nothing known here", 1.0), ("video frames", 0.0)):
        out = d_llm(prior, text, base, alpha=alpha)
        np.testing.assert_allclose(out["f"], base["f"], rtol=1e-12)
        np.testing.assert_array_equal(out["other"], base["other"])
    table = d_llm_table(prior, ["video", "chat", "zzz"], base)
    assert table["f"].shape == (3, 3) and np.allclose(table["f"].sum(1), 1.0)
    ev = evidence_table(prior, ["video", "chat", "zzz"])["f"]
    logits = np.log(base["f"]) + ev
    np.testing.assert_allclose(table["f"], np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_array_equal(ev[2], 0.0)


def test_save_load_roundtrip(tmp_path):
    prior = KeywordPrior.fit(crafted_logs(), factors={"load:edge1": "load_e1"})
    path = prior.save(tmp_path / "prior.json")
    back = KeywordPrior.load(path)
    pd.testing.assert_series_equal(back.weights, prior.weights)
    np.testing.assert_allclose(back.associations["load:edge1"], prior.associations["load:edge1"])
    base = {"load:edge1": np.full(3, 1 / 3)}
    np.testing.assert_allclose(
        d_llm(back, "video", base)["load:edge1"], d_llm(prior, "video", base)["load:edge1"]
    )


def test_bad_input_errors(tmp_path):
    logs = crafted_logs()
    with pytest.raises(ConfigError, match="lack column"):
        KeywordPrior.fit(logs.drop(columns="best_node"), factors={"f": "load_e1"})
    with pytest.raises(ConfigError, match="n_levels"):
        KeywordPrior.fit(logs, factors={"f": "load_e1"}, n_levels={"f": 2})
    prior = KeywordPrior.fit(logs, factors={"f": "load_e1"})
    with pytest.raises(ValueError, match="probability vector"):
        d_llm(prior, "video", {"f": np.array([0.5, 0.6, 0.1])})
    with pytest.raises(ValueError, match="levels in base"):
        d_llm(prior, "video", {"f": np.array([0.5, 0.5])})
    with pytest.raises(ConfigError, match="does not exist"):
        KeywordPrior.load(tmp_path / "missing.json")
    for alpha in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match=r"d_llm\.alpha: must be a finite number"):
            d_llm(prior, "video", {"f": np.full(3, 1 / 3)}, alpha=alpha)
    with pytest.raises(ValueError, match="probability vector"):
        d_llm(prior, "video", {"f": np.array([np.nan, 0.5, 0.5])})
    data = prior.to_dict()
    data["weights"][0] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))  # json writes NaN as a bare token; load reads it
    with pytest.raises(ValueError, match=r"KeywordPrior\.weights: has non-finite entries"):
        KeywordPrior.load(path)
    stop = logs.assign(text=["the and of", "a an the", "is it", "to be"] * (len(logs) // 4))
    with pytest.raises(ConfigError, match="no keyword in any 'text'"):
        KeywordPrior.fit(stop, factors={"f": "load_e1"})
    holes = logs.assign(text=logs.text.where(logs.index != 1, np.nan))
    with pytest.raises(ConfigError, match="row 1 holds nan"):
        KeywordPrior.fit(holes, factors={"f": "load_e1"})


@pytest.fixture(scope="module")
def sim_logs():
    return make_logs(episodes=4, steps=40, policies=("greedy", "cloud"), seed=0)


@pytest.mark.slow
def test_make_logs_columns_and_consistency(sim_logs, tmp_path):
    logs = sim_logs
    assert len(logs) == 4 * 40 * 2
    params = aif_llm.EnvParams()
    assert (logs.loc[logs.policy == "cloud", "node"] == params.n_nodes - 1).all()
    assert logs.text.tolist() == [TASK_TEXTS[i] for i in logs.text_id]
    ok = logs.outcome != aif_llm.FAILED
    met = logs.latency_ms <= logs.deadline_ms
    assert ((logs.outcome[ok] == aif_llm.MET) == met[ok]).all()
    for j in range(1, params.n_edge + 1):
        down = logs[f"up_e{j}"] == 0
        assert (logs.loc[down, f"load_e{j}"] == 3).all()
        assert (logs.loc[~down, f"load_e{j}"] < 3).all()
    # best_node is never a down edge.
    edge = logs.best_node.between(1, params.n_edge)
    up_of_best = [logs.at[i, f"up_e{b}"] for i, b in logs.best_node[edge].items()]
    assert all(u == 1 for u in up_of_best)
    # Same seed -> same logs; CSV round trip keeps the numbers.
    again = make_logs(episodes=4, steps=40, policies=("greedy", "cloud"), seed=0)
    pd.testing.assert_frame_equal(again, logs)
    path = save_logs(logs, tmp_path / "logs.csv")
    back = load_logs(path)
    assert back.shape == logs.shape and (back.node == logs.node).all()
    pd.testing.assert_frame_equal(back, logs, check_dtype=False)
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        save_logs(logs, tmp_path / "logs.txt")


def test_prior_on_simulator_logs_recognises_class(sim_logs):
    from aifedge.generative_models.aif_llm_model import build_model

    prior = KeywordPrior.fit(sim_logs)
    model = build_model()
    # The default factors are the generative model's, with its level counts.
    assert set(prior.associations) == {"class", "net", *(f"load:edge{j}" for j in range(1, 6))}
    for name, n in prior.n_levels.items():
        assert model.num_states[model.factor_index(name)] == n
    base = {f: np.asarray(model.D[model.factor_index(f)]) for f in prior.n_levels}
    for cls, text in (
        (1, "video analytics on a camera stream"),
        (3, "nightly batch embedding of a corpus"),
    ):
        d = d_llm(prior, text, base)
        assert np.argmax(d["class"]) == cls and d["class"][cls] > 0.5
