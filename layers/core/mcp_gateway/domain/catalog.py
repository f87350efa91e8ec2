"""The base of every tool's input: the ``intent`` argument all tools accept.

The tools themselves (input models, action mappings, output models, executors) are declared once each in
the tool registry, ``mcp_gateway.tools``; this module holds only what the gateway-local tools share with
them from below (the domain cannot import the registry).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .models import StrictModel

Intent = Annotated[
    str,
    Field(
        default="",
        max_length=2000,
        description="Why you are making this call (your current task, in one sentence). "
        "Checked by policy and stored only as a keyed hash.",
    ),
]


class ToolInput(StrictModel):
    intent: Intent = ""
