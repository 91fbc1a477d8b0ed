"""Find the user's line: the first frame that is not lrguard's nor a framework's."""
from __future__ import annotations

import sys
from typing import Optional, Tuple

FRAMEWORKS = frozenset({
    "lrguard", "torch", "keras", "tensorflow", "tf_keras", "transformers", "accelerate", "lightning",
    "pytorch_lightning", "lightning_fabric", "wrapt", "importlib", "runpy", "functools", "contextlib",
    "threading", "click", "_pytest", "pluggy",
})


def user_site(skip: int = 1) -> Optional[Tuple[str, int]]:
    """(filename, lineno) of the innermost caller outside lrguard and the frameworks, if any."""
    frame = sys._getframe(skip)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] not in FRAMEWORKS:
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None
