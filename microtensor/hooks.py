"""The handle a registered hook is removed with (PyTorch's ``RemovableHandle``)."""

from __future__ import annotations

from typing import Any


class RemovableHandle:
    """Returned by ``register_hook``: ``remove()`` takes the hook out again (a second call
    does nothing); used as a context manager, the hook is removed on exit.

    >>> import microtensor as mt
    >>> x = mt.ones(2, requires_grad=True)
    >>> with x.register_hook(lambda g: g * 10):
    ...     x.sum().backward()
    >>> x.sum().backward()
    >>> x.grad.tolist()  # 10 from the first backward, 1 from the second
    [11.0, 11.0]
    """

    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list, hook: Any) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        # One occurrence, by identity: a function registered twice runs twice, until both of
        # its handles are removed.
        for i, registered in enumerate(self.hooks):
            if registered is self.hook:
                del self.hooks[i]
                return

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
