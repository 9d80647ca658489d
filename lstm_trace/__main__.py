"""``python -m lstm_trace``: the same as the ``lstm-trace`` command."""

from .entry import run

if __name__ == "__main__":
    run()
