"""One TLS context for the process's outgoing HTTPS clients."""

from __future__ import annotations

import functools
import ssl

__all__ = ["tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The default context, made once: making one loads the CA bundle, which costs more CPU than
    the request it is for (half the worker's CPU when the sandbox made one per notification)."""
    return ssl.create_default_context()
