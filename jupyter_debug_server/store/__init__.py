"""SQLite metadata store: sessions, output, audit records and tokens."""

from __future__ import annotations

from .db import Store, StoreError, iso_time, utcnow_iso

__all__ = ["Store", "StoreError", "iso_time", "utcnow_iso"]
