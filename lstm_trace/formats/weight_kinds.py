"""The kinds of weights file lstm-trace writes, as --to names them. No imports beyond enum,
so that the command line can offer the choices without loading the writers."""

from __future__ import annotations

from enum import Enum


class SaveAs(str, Enum):
    """--to: the framework whose names and layout to write, alone (the kind then comes from
    the file name) or with the kind (for a device or FIFO, which has no suffix to tell it)."""

    pytorch = "pytorch"
    keras = "keras"
    pytorch_npz = "pytorch-npz"
    pytorch_safetensors = "pytorch-safetensors"
    pytorch_pt = "pytorch-pt"
    keras_npz = "keras-npz"
    keras_safetensors = "keras-safetensors"
    keras_h5 = "keras-h5"
    onnx = "onnx"


#: the file kind each --to ending names
KIND_OF = {"npz": ".npz", "safetensors": ".safetensors", "pt": ".pt", "h5": ".weights.h5"}


def to_help(frameworks: str) -> str:
    """--to's help: what the bare framework names do (frameworks), then the kinds."""
    kinds = [s.value for s in SaveAs if "-" in s.value]
    return (
        f"{frameworks}; {', '.join(kinds[:-1])} or {kinds[-1]} also name the kind of file, "
        "for a device or FIFO such as /dev/stdout."
    )
