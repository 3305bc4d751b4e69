"""Items read as DynamoDB answers them, for the reads too large to make into item models one by one (a group's
roster of 200 entries for the metrics rollup, the sweep and the console): the Query's pages and the strings in
them."""

from __future__ import annotations

from collections.abc import Iterator


def query_items(connection, hash_key: str, **kw) -> Iterator[dict]:
    """Every item of a Query (a PynamoDB connection's), page after page."""
    start = None
    while True:
        page = connection.query(hash_key, exclusive_start_key=start, **kw)
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def text(item: dict, name: str) -> str | None:
    """A string attribute of a raw item, or None when it is absent or not a string."""
    value = item.get(name)
    return value["S"] if value is not None and "S" in value else None
