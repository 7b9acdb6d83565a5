"""The time zone of operations: when digests go out, and where a usage report's days begin.

TOPRANK_TZ is an IANA name ("America/New_York"); unset, UTC. A name the system does not
know is refused with one line (at start, never at send time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TZ_ENV = "TOPRANK_TZ"
DEFAULT_ZONE = "UTC"


class ZoneError(ValueError):
    """TOPRANK_TZ names no time zone."""


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(
            f"{TZ_ENV}={name!r} is not a time zone name (use one like 'America/New_York' or 'UTC')"
        ) from None


def zone_from_env(environ: Mapping[str, str] = os.environ) -> tzinfo:
    return zone_named(environ.get(TZ_ENV, "").strip() or DEFAULT_ZONE)


def zone_label(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)
