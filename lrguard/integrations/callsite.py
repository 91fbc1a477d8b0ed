"""Find the user's line: the first frame that is not lrguard's nor a framework's."""
from __future__ import annotations

import sys
from typing import Optional, Tuple

FRAMEWORKS = frozenset({
    "lrguard", "torch", "keras", "tensorflow", "tf_keras", "transformers", "accelerate", "lightning",
    "pytorch_lightning", "lightning_fabric", "wrapt", "importlib", "runpy", "functools", "contextlib",
    "threading", "click", "_pytest", "pluggy",
    # training stacks that build optimizers and schedulers for the user (the user's line is their caller)
    "timm", "detectron2", "fvcore", "mmengine", "ignite", "composer", "deepspeed", "peft", "trl",
    "sentence_transformers", "torchtune",
})


def user_site(skip: int = 1, built: object = None) -> Optional[Tuple[str, int]]:
    """(filename, lineno) of the innermost caller outside lrguard and the frameworks, if any.

    With ``built`` (an object under construction), the ``__init__`` frames of its own classes are passed too: a
    user's scheduler subclass calling ``super().__init__`` is reported where the user builds it.
    """
    inits = _init_codes(built) if built is not None else ()
    frame = sys._getframe(skip)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] not in FRAMEWORKS and frame.f_code not in inits:
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _init_codes(obj: object) -> tuple:
    codes = []
    for klass in type(obj).__mro__:
        code = getattr(klass.__dict__.get("__init__"), "__code__", None)
        if code is not None:
            codes.append(code)
    return tuple(codes)
