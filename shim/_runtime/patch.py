"""Splicing the shim's wrapt proxy into a chain of wrappers, and out again.

The shim is a ``wrapt.FunctionWrapper`` around the C function
(``posix.system`` or ``nt.system``).  It goes at the *bottom* of whatever
chain of wrapt proxies is already on ``os.system``, so that another
instrumentation's wrapper keeps running in front of it, and a wrapper added
later simply wraps ours.  Taking it off unlinks it from that chain again.

These functions hold no state and never assign ``os.system`` themselves:
they compute what goes there, and the lifecycle
(:mod:`shim._runtime.lifecycle`) does the assigning, under its lock.
"""

from typing import Any, Callable, List, Optional

import wrapt as _wrapt

__all__ = ["chain", "is_ours", "make_proxy", "splice", "unsplice"]

# wrapt's type stubs differ between the 1.x and 2.x lines supported; the few
# objects used here are checked by the tests, on both lines.
wrapt: Any = _wrapt

# wrapt 2 renamed the base of its proxies (FunctionWrapper is no longer an
# ObjectProxy); either way it is the type that has a settable __wrapped__.
_PROXY_BASE: Any = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

#: A chain longer than this is a loop or something hostile, not a stack of tools.
_MAX_CHAIN = 100


def make_proxy(wrapped: Callable[..., Any], handler: Callable[..., Any]) -> Any:
    """A wrapt proxy that looks like ``wrapped`` and calls ``handler``.

    wrapt calls ``handler(wrapped, instance, args, kwargs)``.
    """
    return wrapt.FunctionWrapper(wrapped, handler)


def is_ours(obj: Any, handler_type: type) -> bool:
    """Whether ``obj`` is a proxy whose handler is a ``handler_type``."""
    return isinstance(obj, wrapt.FunctionWrapper) and isinstance(
        getattr(obj, "_self_wrapper", None), handler_type
    )


def chain(obj: Any) -> List[Any]:
    """``obj`` and everything under it through wrapt's ``__wrapped__``."""
    links = [obj]
    while isinstance(links[-1], _PROXY_BASE) and len(links) < _MAX_CHAIN:
        links.append(links[-1].__wrapped__)
    return links


def splice(current: Any, proxy: Any) -> Any:
    """Put ``proxy`` at the bottom of the chain ``current`` heads; return the new head.

    The caller has checked that the chain ends in the plain function; the
    other tool's wrappers stay in front of ours.
    """
    links = chain(current)
    if len(links) == 1:
        return proxy
    links[-2].__wrapped__ = proxy
    return current


def unsplice(current: Any, proxy: Any) -> Optional[Any]:
    """Take ``proxy`` out of the chain ``current`` heads; return the new head.

    ``None`` when ``proxy`` is not in the chain (something opaque wraps it):
    it then stays, and passes calls through once its handler is switched off.
    """
    if current is proxy:
        return proxy.__wrapped__
    for link in chain(current):
        if isinstance(link, _PROXY_BASE) and link.__wrapped__ is proxy:
            link.__wrapped__ = proxy.__wrapped__
            return current
    return None
