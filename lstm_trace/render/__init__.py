"""Renderers: each turns a Trace into a Rich renderable or a string, and never prints."""

from .json import render_json
from .markdown import render_markdown
from .table import render_table
from .tree import render_tree

__all__ = ["render_json", "render_markdown", "render_table", "render_tree"]
