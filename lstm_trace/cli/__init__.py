"""The command line: the Typer app (app.py), its subcommands (commands.py), the options
(options.py), how options and files become one configuration (resolve.py) and what is
printed and written (output.py). Only this package prints or chooses exit codes.

``app`` is the Typer application with every subcommand registered; ``run`` is the console
entry point (``lstm-trace``, ``python -m lstm_trace``).
"""

from . import commands, inspect_cmd  # register the subcommands on app
from .app import app, main, run

__all__ = ["app", "commands", "inspect_cmd", "main", "run"]
