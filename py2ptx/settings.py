"""The one setting that scales every notebook's problem sizes.

``PY2PTX_SCALE`` (default 1) multiplies the default sizes. At 1 each notebook runs
top to bottom in under a minute on 2 CPU cores (what CI and a live lecture need);
4 or 16 give smoother curves on a faster machine. Widgets go further by hand.
"""

from __future__ import annotations

import os


def scale() -> int:
    """The size multiplier from ``PY2PTX_SCALE`` (a positive integer, default 1)."""
    raw = os.environ.get("PY2PTX_SCALE", "1")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"PY2PTX_SCALE must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"PY2PTX_SCALE must be a positive integer, not {value}")
    return value


def sizes(*base: int) -> list[int]:
    """The default problem sizes ``base``, each multiplied by :func:`scale`."""
    return [n * scale() for n in base]


def shared_gpu() -> bool:
    """``PY2PTX_SHARED_GPU=1``: this GPU is shared with other users (a hub).

    Notebook 05's interference experiment measures what other kernels do to a victim;
    on a GPU other students are using at the same moment it would measure them too, and
    disturb their timings. With this set, notebook 05 shows the recorded run instead and
    says why. Nothing else changes.
    """
    return os.environ.get("PY2PTX_SHARED_GPU", "0") not in ("", "0")
