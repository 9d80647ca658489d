"""The JSON document: strict (no NaN or Infinity), newline-terminated, byte-identical per seed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace

from ..trace import Trace

#: where the records go in the document without them (indent 2: a key of the top object)
_EMPTY_TENSORS = '\n  "tensors": []'
#: a record's lines sit two levels deep: indented by four spaces more than on their own
_RECORD_INDENT = "\n    "


def render_json(trace: Trace) -> str:
    """Trace.to_dict() as strict JSON; non-finite values are already None (null) there."""
    return json.dumps(trace.to_dict(), indent=2, allow_nan=False) + "\n"


def json_pieces(trace: Trace, done: Callable[[int], None] | None = None) -> Iterator[str]:
    """render_json's text, byte for byte, in pieces: the document around the records, then
    one record at a time, calling done(1) after each (a progress bar's count). A record's
    dict lives only while it is written, never the whole document's."""
    head, tail = render_json(replace(trace, tensors=[])).split(_EMPTY_TENSORS, 1)
    yield head
    if not trace.tensors:
        yield _EMPTY_TENSORS
    else:
        yield '\n  "tensors": ['
        separator = _RECORD_INDENT
        for record in trace.tensors:
            text = json.dumps(record.to_dict(), indent=2, allow_nan=False)
            yield separator + text.replace("\n", _RECORD_INDENT)
            separator = "," + _RECORD_INDENT
            if done is not None:
                done(1)
        yield "\n  ]"
    yield tail
