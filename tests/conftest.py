import os
import secrets

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Ray (tests/test_cluster.py): token authentication with a token of this test session, set
# before any test module imports Ray, which reads its auth settings once per process (with
# pytest-xdist a worker may import Ray for another file first). ~/.ray is not consulted.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
