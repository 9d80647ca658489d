"""Where the readers were before formats/: ``lstm_trace.reading.read_weights(path)``, as the
README has shown it, keeps working. The readers live in formats/reading.py."""

from .formats.reading import WeightsFile, load_weights, read_weights

__all__ = ["WeightsFile", "load_weights", "read_weights"]
