"""Detectors: pure functions of a ``Run`` that return a ``Diagnosis`` or ``None``.

Each module has an ``ID`` and a ``check(run)``. Order matters: a schedule bug, once found, silences the
detectors that would explain the same symptoms differently.
"""


def fmt(value: float) -> str:
    """A number the way a user writes it: 0.001, 1e-06, 0.9."""
    return f"{value:.4g}"


from . import absolute_lr, collapse, invalid, keras_multiplier, vanishing  # noqa: E402  (they use fmt)

ALL = (invalid, absolute_lr, keras_multiplier, collapse, vanishing)
