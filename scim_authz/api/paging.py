"""Pages of a sorted list of keys, by a token that names the last key given: pages never overlap
or skip, however the list changes between requests. /v1's lookups call the token a cursor,
AuthZEN's search `page.token`."""
from __future__ import annotations

import base64
import bisect


def page(keys: list[str], token: str | None, limit: int) -> tuple[int, int, str | None]:
    """The slice [start, end) of `keys` after `token`, at most `limit` long, and the token of the
    next page (None on the last). ValueError for a token this API did not give."""
    start = 0
    if token:
        try:
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError("not a token this API gave") from e
        start = bisect.bisect_right(keys, after)
    end = min(start + limit, len(keys))
    more = end < len(keys) and end > start
    return start, end, (base64.urlsafe_b64encode(keys[end - 1].encode()).decode() if more else None)
