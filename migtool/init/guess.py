"""A guess: a value with the reason it was chosen, so `migtool init` can explain itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Guess:
    value: Any
    why: str
    sure: bool = True  # False: a default or a weak match that the user should check
    notes: tuple[str, ...] = field(default=())
