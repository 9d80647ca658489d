"""lstm_trace.explain: the walkthrough as an object that a notebook shows as HTML.

``explain(LSTMConfig(...))``, ``explain(input_size=32, hidden_size=70)`` or ``explain(trace)``
return an Explanation: str() and repr() are the Markdown that `lstm-trace explain --format
markdown` prints (readable as it is in a plain shell), and a notebook shows it rendered, with
the cell diagram after its title (render/notebook.py, loaded when shown).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, fields
from typing import Any

from ..config import LSTMConfig
from ..errors import ConfigError
from ..trace import Trace
from . import walkthrough

#: the keywords explain() takes besides a configuration: LSTMConfig's own
_KEYWORDS = (*(f.name for f in fields(LSTMConfig)), "bidirectional")


@dataclass(frozen=True)
class Explanation:
    """The walkthrough of config: text is its Markdown (what str() and repr() give)."""

    config: LSTMConfig
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from ..render.notebook import explanation_html  # lazy: the pictures, when shown

        return explanation_html(self.text, self.config)

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> dict[str, str]:
        """A notebook's view: the walkthrough as HTML with the cell diagram, as Markdown,
        and as its text."""
        from ..render.notebook import mimebundle  # lazy: the notebook's HTML, when shown

        return mimebundle(
            self._repr_html_,
            self.__str__,
            include,
            exclude,
            **{"text/markdown": self._repr_markdown_},
        )


def explain(config: LSTMConfig | Trace | None = None, /, **sizes: Any) -> Explanation:
    """The walkthrough narrated with the numbers of config (an LSTMConfig, or a Trace's),
    changed by sizes (LSTMConfig's keywords: input_size=32, hidden_size=70, cell='gru',
    bidirectional=True, ...); with no config, LSTMConfig(**sizes)."""
    unknown = sorted(set(sizes) - set(_KEYWORDS))
    if unknown:
        raise ConfigError(
            f"explain() got {', '.join(unknown)}: expected an LSTMConfig or a Trace, and "
            f"LSTMConfig's keywords ({', '.join(_KEYWORDS)})"
        )
    if isinstance(config, Trace):
        config = config.config
    if config is None:
        config = LSTMConfig(**sizes)
    elif not isinstance(config, LSTMConfig):
        raise ConfigError(f"explain() takes an LSTMConfig or a Trace, got {type(config).__name__}")
    elif sizes:
        config = _changed(config, sizes)
    return Explanation(config, walkthrough(config))


def _changed(config: LSTMConfig, sizes: dict[str, Any]) -> LSTMConfig:
    """config with sizes changed; bidirectional= says the direction, unless direction= is
    given too (then LSTMConfig checks that they agree)."""
    current: dict[str, Any] = {f.name: getattr(config, f.name) for f in fields(config)}
    if "bidirectional" in sizes:
        current["direction"] = None
    return LSTMConfig(**{**current, **sizes})
