"""The proxy's route table: model, parser and writer.

One format serves two writers and one reader: people write it as a file for ``canarist proxy
--routes``, the ``proxy`` traffic router writes it into a ConfigMap labelled
``canarist.io/route-table`` (key ``routes.yaml``), and the proxy reads both. It lives in ``spec``
so that the router can produce it without importing the proxy. ``docs/route-table.md`` describes
every field.

``model`` holds the frozen dataclasses, ``parse`` reads and validates text (every problem with
its path), ``write`` turns a table back into the text ``parse`` reads equal. Everything public is
importable from here.
"""

from webhook.spec.routetable.model import (
    DEFAULT_STICKY_MAX_AGE,
    ROUTE_TABLE_KEY,
    ROUTE_TABLE_LABEL,
    Backend,
    Endpoint,
    HeaderRoute,
    MirrorRoute,
    Route,
    RouteTable,
    ServiceRef,
    Sticky,
)
from webhook.spec.routetable.parse import (
    parse_endpoint,
    parse_route_table,
    route_table_from_obj,
)
from webhook.spec.routetable.write import dump_route_table, route_table_to_dict, route_to_dict

__all__ = [
    "DEFAULT_STICKY_MAX_AGE",
    "ROUTE_TABLE_KEY",
    "ROUTE_TABLE_LABEL",
    "Backend",
    "Endpoint",
    "HeaderRoute",
    "MirrorRoute",
    "Route",
    "RouteTable",
    "ServiceRef",
    "Sticky",
    "dump_route_table",
    "parse_endpoint",
    "parse_route_table",
    "route_table_from_obj",
    "route_table_to_dict",
    "route_to_dict",
]
