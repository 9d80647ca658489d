"""A digest that identifies a recurrent layer's weights: the JSON document's ``weights.digest``.

Two traces of different weights of the same shapes have the same configuration, counts and
shapes; the digest is what tells them apart (``lstm-trace diff`` reports it), and what says
that two runs used the same weights.

The canonical form hashed with SHA-256 (the digest is ``"sha256:"`` and 64 hex digits), per
layer k and direction in PyTorch's order (layer 0 forward, layer 0 backward, layer 1, ...):

    weight_ih_l{k}[_reverse]  (4H, I_k)    gate rows in PyTorch's order i, f, g, o
    weight_hh_l{k}[_reverse]  (4H, H_out)
    bias_l{k}[_reverse]       (4H,)        b_ih + b_hh: the one bias the cell adds
    weight_hr_l{k}[_reverse]  (H_out, H)   only with a projection (proj_size > 0)

each tensor as one line ``name shape\\n`` (shape as comma-separated dimensions, e.g.
``weight_ih_l0 280,32``) followed by its values as float32, little-endian, in C order. The
stream starts with the line ``lstm-trace weights v1\\n``. Peepholes add
``weight_peep_l{k}[_reverse]`` (3H,) p_i, p_f, p_o after the others of their layer and
direction.

A GRU's stream has a second line, ``cell gru\\n`` (``cell gru reset_before\\n`` with
reset_after=False), and keeps both biases, ``bias_ih`` and ``bias_hh`` (3H,) with rows r, z,
n: b_hn sits inside the reset gate's product, so the sum would not say what the cell
computes. With reset_after=False only their sum acts, and it is hashed as ``bias``.

Why this form:

- float32 values: a float64 run of float32 weights (or a float32 run of float64 ones) is the
  same model; rounding every value to float32 first makes their digests agree.
- the summed bias: Keras keeps only b_ih + b_hh, so a PyTorch file and its Keras conversion
  (``lstm-trace convert``) must agree; the two biases are each rounded to float32, added
  exactly in float64 and the sum rounded to float32 once. That is bit for bit the sum a
  float32 file's conversion stores, and it does not depend on the run's dtype (rounding a
  float64 sum directly would: the float32 and float64 runs of one seed would then differ in
  a last bit). A float64 file converted in float64 keeps its float64 sum, which may round
  to another last bit: convert in float32 to compare such a pair by digest.
- a layer without biases computes what zero biases compute, and hashes as zeros.
- names and shapes are hashed, so the same numbers in another architecture differ.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from .cells.base import FloatArray
from .weights import LSTMWeights

PREFIX = "sha256:"
_MAGIC = b"lstm-trace weights v1\n"
_CANONICAL = np.dtype("<f4")  # float32, little-endian, whatever the machine


def canonical_tensors(weights: LSTMWeights) -> list[tuple[str, FloatArray]]:
    """The (name, float32 array) pairs the digest hashes, in the order it hashes them."""
    out: list[tuple[str, FloatArray]] = []
    cfg = weights.config
    both = cfg.kind.biases_apart(cfg)  # a GRU's b_hn inside the reset: no sum
    for k, d, w in weights:
        suffix = f"_l{k}" + ("_reverse" if cfg.directions[d] == "backward" else "")
        out += [
            (f"weight_ih{suffix}", w.w_ih.astype(_CANONICAL)),
            (f"weight_hh{suffix}", w.w_hh.astype(_CANONICAL)),
        ]
        if both:
            out += [
                (f"bias_{p}{suffix}", b.astype(_CANONICAL))
                for p, b in (("ih", w.b_ih), ("hh", w.b_hh))
            ]
        else:
            # each bias rounded to float32 first, so that the run's dtype does not matter
            bias = w.b_ih.astype(_CANONICAL).astype(np.float64) + w.b_hh.astype(_CANONICAL)
            out.append((f"bias{suffix}", bias.astype(_CANONICAL)))
        if w.w_hr is not None:
            out.append((f"weight_hr{suffix}", w.w_hr.astype(_CANONICAL)))
        if w.w_peep is not None:
            out.append((f"weight_peep{suffix}", w.w_peep.astype(_CANONICAL)))
    return out


def weights_digest(weights: LSTMWeights) -> str:
    """'sha256:' and the SHA-256 of the canonical form (see the module's docstring)."""
    h = hashlib.sha256(_MAGIC + weights.config.kind.digest_line(weights.config).encode("ascii"))
    with np.errstate(over="ignore"):  # a float64 beyond float32's range is inf: still hashed
        tensors = canonical_tensors(weights)
    for name, array in tensors:
        h.update(f"{name} {','.join(map(str, array.shape))}\n".encode("ascii"))
        h.update(np.ascontiguousarray(array).tobytes(order="C"))
    return PREFIX + h.hexdigest()


#: the source of weights that trace() drew from the configuration's seed
SEEDED = "seeded"
#: the source of weights handed to trace() without a name
IN_MEMORY = "in memory"


def weights_dict(weights: LSTMWeights, source: str, module: str | None = None) -> dict[str, Any]:
    """The JSON document's ``weights`` object: {"digest", "source"}, and "seed" (the
    configuration's) when the weights were drawn from it (source 'seeded'); else source is a
    file's path as given, or 'in memory', and "module" the module of that file traced."""
    out: dict[str, Any] = {"digest": weights_digest(weights), "source": source}
    if module is not None:
        out["module"] = module
    if source == SEEDED:
        out["seed"] = weights.config.seed
    return out
