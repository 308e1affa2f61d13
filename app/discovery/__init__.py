"""Discovery: from an address (or a bare domain) to the mail servers, the way mail clients do it
(SPEC section 7). Qt-free; each source is its own module, `run` tries them in order.

    from app.discovery import Discovery, discover, save
    result = discover("jane@corp.example", config)      # blocking: never on the GUI thread
    result.source, result.endpoints, result.tried, result.to_json()
    save(result, config)                                 # `discover --save`: the user config file
"""

from __future__ import annotations

from app.discovery.model import Discovery
from app.discovery.run import discover, split_address
from app.discovery.save import locked_keys, save

__all__ = ["Discovery", "discover", "locked_keys", "save", "split_address"]
