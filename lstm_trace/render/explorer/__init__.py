"""The explorer: one self-contained HTML page to explore a traced run (`lstm-trace --html`).

budget.py chooses, before the run, what a page can hold (the steps whose full values it
embeds, the rows of its heatmaps) and run.py's page_trace runs that trace; data.py turns a
Trace into the one JSON object the page embeds; page.py lays out the page around it, with
explorer.js and explorer.css (package data) inlined, so that the page opens with no network
access.
"""

from .budget import Holding, held_steps, page_map_rows
from .page import explorer_page
from .run import page_trace

__all__ = ["Holding", "explorer_page", "held_steps", "page_map_rows", "page_trace"]
