"""Renderers: each turns a Trace into a Rich renderable or a string, and never prints.

Each is loaded when first asked for (``from lstm_trace.render import render_table`` loads
render/table.py only): a command shows one view, and the others' imports (json, Rich's tree,
the Markdown writer) would only slow its start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .json import render_json
    from .markdown import render_markdown
    from .table import render_table
    from .tree import render_tree

#: each renderer's module
_MODULES = {
    "render_json": ".json",
    "render_markdown": ".markdown",
    "render_table": ".table",
    "render_tree": ".tree",
}

__all__ = ["render_json", "render_markdown", "render_table", "render_tree"]


def __getattr__(name: str) -> Any:
    """A renderer, imported from its module on first use (PEP 562)."""
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
