import os
import secrets
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# JAX's persistent compilation cache, shared by everything the test session starts (xdist
# workers, notebook kernels, CLI subprocesses, Ray workers): the same jitted rollouts are
# compiled in many processes and by fresh ``jax.jit`` wrappers. Speed only: a cached
# executable is the one XLA would compile again, so results are bit-identical.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(__file__).parents[1] / ".cache/jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Ray (tests/test_cluster.py): token authentication with a token of this test session, set
# before any test module imports Ray, which reads its auth settings once per process (with
# pytest-xdist a worker may import Ray for another file first). ~/.ray is not consulted.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
