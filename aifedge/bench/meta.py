"""Meta-net (AIF-LLM Eq. 7) cost per decision: ``aifedge bench meta``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from aifedge.bench import row, time_calls
from aifedge.inference.meta import MetaConfig, make_meta_net, meta_lambda


def bench_meta(repeats: int = 10, calls: int = 1000) -> list[dict]:
    """Meta-net cost per decision cycle (Table 5's "Meta-Net" row), AIF-LLM Eq. 7 on a scalar U_t.

    ``meta_net_call``: ``calls`` back-to-back jitted calls from Python (dispatch included);
    ``meta_net_in_jit``: ``calls`` evaluations inside one jitted ``lax.scan`` (what it adds to
    a jitted agent step). ``us_per_call`` = ``median_s / calls`` in µs.
    """
    cfg = MetaConfig()
    model = make_meta_net(cfg, jax.random.PRNGKey(0))
    params, static = eqx.partition(model, eqx.is_array)
    call = jax.jit(lambda p, u: meta_lambda(eqx.combine(p, static), u, cfg))
    u = jnp.asarray(0.3)

    def many():
        out = None
        for _ in range(calls):
            out = call(params, u)
        return out

    @eqx.filter_jit
    def scanned(m, us):
        return jax.lax.scan(lambda c, x: (c + meta_lambda(m, x, cfg), None), 0.0, us)[0]

    us = jnp.linspace(0.0, 1.0, calls)
    rows = []
    for name, fn in (("meta_net_call", many), ("meta_net_in_jit", lambda: scanned(model, us))):
        times = time_calls(fn, repeats)
        rows.append(
            row(
                name,
                times,
                calls=calls,
                hidden=cfg.hidden,
                us_per_call=float(np.median(times)) / calls * 1e6,
            )
        )
    return rows
