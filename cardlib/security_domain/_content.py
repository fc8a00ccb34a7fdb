"""How the ISD reaches its chip's content (registry and applet instances).

An applet only gets an :class:`~cardlib.applet.AppletEnv`; the security domain needs the
chip's :class:`~cardlib.content.ChipContent` to install, delete and route STORE DATA. The
chip may publish it as the ``"content"`` service; when it does not, the ISD builds a
content object over the same persistent memory (applets keep no state in Python
attributes, so two content objects over one memory agree on everything durable).
"""

from __future__ import annotations

from cardlib.applet import AppletEnv
from cardlib.content import ChipContent

__all__ = ["chip_content"]

_FALLBACK = "security_domain.content"


def chip_content(env: AppletEnv) -> ChipContent:
    published = env.services.get("content")
    if isinstance(published, ChipContent):
        return published
    memory = env.store.memory
    cached = env.services.get(_FALLBACK)
    if cached is not None and cached[0] is memory:
        return cached[1]
    content = ChipContent(memory, env.services, env.random)
    env.services[_FALLBACK] = (memory, content)
    return content
