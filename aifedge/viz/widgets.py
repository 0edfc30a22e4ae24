"""``explore``: a static call plus an ipywidgets slider panel, so that notebooks with sliders
also execute headless."""

from collections.abc import Callable

import matplotlib.pyplot as plt


def explore(fn: Callable, *, manual: bool = False, widgets: bool = True, **sliders):
    """Call ``fn()`` once with its defaults (so errors surface and a static figure exists
    when the notebook runs headless), then, if ipywidgets is installed and ``widgets``,
    return an ``ipywidgets.interactive`` panel over ``sliders`` (ipywidgets abbreviations
    such as ``(0.1, 10.0, 0.1)``; initial values are ``fn``'s defaults). ``manual``: only
    rerun on a button press (for slow functions). Returns the panel, or None."""
    from IPython.display import display

    result = fn()
    if isinstance(result, plt.Figure):
        display(result)
        plt.close(result)
    elif result is not None:
        display(result)
    if not widgets:
        return None
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets.interactive(fn, {"manual": manual}, **sliders)
