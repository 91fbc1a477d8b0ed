"""In-place method patching that ``restore()`` undoes exactly (the original objects, by identity)."""
from __future__ import annotations

import functools
from typing import Any, Callable, List, Tuple


class Patches:
    """Wrap methods of classes in place and remember how to put every original back."""

    def __init__(self) -> None:
        self._applied: List[Tuple[Any, str, Any, bool]] = []
        self._handles: List[Any] = []

    def wrap(self, owner: type, name: str, make: Callable[[Callable], Callable]) -> None:
        """Replace ``owner.name`` by ``make(original)``, keeping the original's name, doc and signature."""
        own = name in owner.__dict__
        original = owner.__dict__[name] if own else getattr(owner, name)
        wrapper = functools.update_wrapper(make(original), original)
        setattr(owner, name, wrapper)
        self._applied.append((owner, name, original, own))

    def keep(self, handle: Any) -> None:
        """Keep a removable hook handle (anything with ``.remove()``) to remove on ``restore()``."""
        self._handles.append(handle)

    def restore(self) -> None:
        for handle in reversed(self._handles):
            handle.remove()
        self._handles.clear()
        for owner, name, original, own in reversed(self._applied):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._applied.clear()
