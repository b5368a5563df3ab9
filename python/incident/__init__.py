"""The incident store from Python.

``IncidentManager`` keeps the original ``incident_manager.IncidentManager`` API (method
names, signatures, return values, dict keys) over the Rust store: one redb file, indexed
queries, pattern mining and metrics. Everything the CLI does is reachable from here, and
errors carry the CLI's messages.

    from incident_manager import IncidentManager   # or: from incident import IncidentManager
    manager = IncidentManager()                     # $INCIDENT_DB, else ./incidents.redb
    incident_id = manager.create_incident(category="failure", priority="critical",
        title="データベース接続断", description="PostgreSQLへの接続が切断された",
        affected_components=["db_client"], impact="分析処理の停止")
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ._incident import (
    IncidentError,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    StorageError,
    Store,
)

__all__ = [
    "IncidentManager",
    "IncidentError",
    "InvalidInputError",
    "NotFoundError",
    "RefusedError",
    "StorageError",
]

_UPDATE_KEYS = {
    "status": "status",
    "priority": "priority",
    "category": "category",
    "assignee": "assignee",
    "title": "title",
    "description": "description",
    "impact": "impact",
    "affected_components": "add_components",
    "add_components": "add_components",
    "note": "note",
    "notes": "note",
}


def _local_iso(value: Optional[str]) -> Optional[str]:
    """RFC 3339 UTC as stored -> naive local ISO 8601, as the original's
    ``datetime.now().isoformat()`` wrote it (so ``datetime.fromisoformat`` and comparisons
    with ``datetime.now()`` keep working)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone().replace(tzinfo=None).isoformat()


def _original_shape(inc: Dict[str, Any]) -> Dict[str, Any]:
    """Our JSON incident as the original tool's dict: ``incident_id`` and ``timestamp``
    keys, naive local times; our extra fields follow under their own names."""
    resolution = inc.get("resolution")
    if resolution is not None:
        resolution = dict(resolution)
        resolution["resolved_at"] = _local_iso(resolution.get("resolved_at"))
    out: Dict[str, Any] = {
        "incident_id": inc["id"],
        "timestamp": _local_iso(inc["created_at"]),
        "category": inc["category"],
        "priority": inc["priority"],
        "title": inc["title"],
        "description": inc["description"],
        "affected_components": list(inc["affected_components"]),
        "impact": inc["impact"],
        "assignee": inc.get("assignee"),
        "status": inc["status"],
        "timeline": [
            {
                "timestamp": _local_iso(e["timestamp"]),
                "action": e["action"],
                "details": e["details"],
            }
            for e in inc["timeline"]
        ],
        "resolution": resolution,
        "updated_at": _local_iso(inc["updated_at"]),
        "acknowledged_at": _local_iso(inc.get("acknowledged_at")),
        "origin": inc.get("origin", "manual"),
    }
    if inc.get("matched_pattern"):
        out["matched_pattern"] = inc["matched_pattern"]
    return out


def _list(values: Optional[Iterable[str]]) -> List[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return list(values)


class IncidentManager:
    """An incident database: the original ``IncidentManager`` API plus the store's own.

    ``path`` is the redb file; the default is ``$INCIDENT_DB``, else ``./incidents.redb``
    (the CLI's default, so both see the same incidents). The file is held open, and
    locked against other processes, until ``release()`` or the end of a ``with`` block.
    """

    def __init__(self, path: Optional[str] = None) -> None:
        if path is None:
            path = os.environ.get("INCIDENT_DB") or "incidents.redb"
        self._store = Store(str(path))

    # -- the original API ------------------------------------------------------------

    def create_incident(
        self,
        category: str,
        priority: str,
        title: str,
        description: str,
        affected_components: Sequence[str],
        impact: str,
        assignee: Optional[str] = "ai_system",
    ) -> str:
        """Record a new incident; returns its id (``INC-YYYYMMDD-NNNN``).

        ``category``: error, failure, request, change, security or performance;
        ``priority``: critical, high, medium or low. Raises ``InvalidInputError`` for an
        unknown value or an empty title."""
        inc = json.loads(
            self._store.create(
                category,
                priority,
                title,
                description,
                _list(affected_components),
                impact,
                assignee,
            )
        )
        return inc["id"]

    def update_incident(self, incident_id: str, updates: Dict[str, Any]) -> bool:
        """Apply ``updates`` (keys: status, priority, category, assignee, title,
        description, impact, affected_components (added), note); every change goes to the
        timeline. Returns False when no incident has the id, as the original did.
        ``status`` moves between open and in_progress; resolve with
        ``resolve_incident``."""
        kwargs: Dict[str, Any] = {}
        for key, value in updates.items():
            target = _UPDATE_KEYS.get(key)
            if target is None:
                raise InvalidInputError(
                    f"unknown update field {key!r} (expected one of: "
                    + ", ".join(sorted(_UPDATE_KEYS))
                    + ")"
                )
            kwargs[target] = _list(value) if target == "add_components" else value
        try:
            self._store.update(incident_id, **kwargs)
        except NotFoundError:
            return False
        return True

    def resolve_incident(
        self,
        incident_id: str,
        actions_taken: Sequence[str],
        root_cause: str,
        preventive_measures: Optional[Sequence[str]] = None,
        knowledge_updates: Optional[Sequence[str]] = None,
    ) -> bool:
        """Resolve with the actions taken and the root cause. Returns False when no
        incident has the id; raises ``RefusedError`` when the lifecycle refuses (already
        closed) and ``InvalidInputError`` without actions or root cause."""
        try:
            self._store.resolve(
                incident_id,
                _list(actions_taken),
                root_cause,
                _list(preventive_measures),
                _list(knowledge_updates),
            )
        except NotFoundError:
            return False
        return True

    def get_open_incidents(self, category: Optional[str] = None) -> List[Dict[str, Any]]:
        """Incidents still needing someone (open or in_progress), newest first,
        optionally of one category."""
        return self.list_incidents(
            status=["open", "in_progress"], category=category
        )

    def get_incident_by_id(self, incident_id: str) -> Optional[Dict[str, Any]]:
        """The incident as the original's dict, or None when no incident has the id."""
        found = self._store.get(incident_id)
        return None if found is None else _original_shape(json.loads(found))

    def analyze_patterns(self) -> Dict[str, Any]:
        """The original's analysis keys, filled from the store's pattern mining:
        ``most_common_category`` (str or None), ``most_common_components`` (list of
        (component, count), top 5), ``recurring_issues`` (patterns that came back after
        being resolved: pattern_id, name, template, count, recurrences),
        ``avg_resolution_times`` (category -> mean hours to resolve, known times only),
        ``recommendations`` (list of str); plus ``patterns`` (every mined pattern)."""
        analysis = self.analyze()
        incidents = self.list_incidents(all_statuses=True)
        categories = Counter(i["category"] for i in incidents)
        components = Counter(c for i in incidents for c in i["affected_components"])
        hours: Dict[str, List[float]] = {}
        for i in incidents:
            res = i.get("resolution")
            if res and res.get("resolved_at") and i["status"] in ("resolved", "closed"):
                start = datetime.fromisoformat(i["timestamp"])
                end = datetime.fromisoformat(res["resolved_at"])
                hours.setdefault(i["category"], []).append(
                    (end - start).total_seconds() / 3600.0
                )
        patterns = analysis["patterns"]
        return {
            "most_common_category": categories.most_common(1)[0][0] if categories else None,
            "most_common_components": components.most_common(5),
            "recurring_issues": [
                {
                    "pattern_id": p["id"],
                    "name": p["name"],
                    "template": p["template"],
                    "count": p["count"],
                    "recurrences": p["recurrences"],
                }
                for p in patterns
                if p["recurrences"] > 0
            ],
            "avg_resolution_times": {
                cat: sum(v) / len(v) for cat, v in sorted(hours.items())
            },
            "recommendations": [r["message"] for r in analysis["recommendations"]],
            "patterns": patterns,
        }

    def generate_report(self) -> str:
        """The Markdown metrics report (``incident report``)."""
        return self._store.report("markdown")

    # -- beyond the original -------------------------------------------------------------

    def list_incidents(
        self,
        status: Optional[Iterable[str]] = None,
        category: Optional[Iterable[str]] = None,
        priority: Optional[Iterable[str]] = None,
        component: Optional[Iterable[str]] = None,
        assignee: Optional[Iterable[str]] = None,
        pattern: Optional[Iterable[str]] = None,
        origin: Optional[Iterable[str]] = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
        limit: Optional[int] = None,
        oldest_first: bool = False,
        all_statuses: bool = False,
    ) -> List[Dict[str, Any]]:
        """``incident list`` with every filter (each a value or a list of alternatives);
        open and in_progress unless ``status`` or ``all_statuses``. Newest first."""
        statuses = _list(status)
        if not statuses and not all_statuses:
            statuses = ["open", "in_progress"]
        found = self._store.query(
            statuses=statuses,
            categories=_list(category),
            priorities=_list(priority),
            components=_list(component),
            assignees=_list(assignee),
            patterns=_list(pattern),
            origins=_list(origin),
            since=since,
            until=until,
            limit=limit,
            oldest_first=oldest_first,
        )
        return [_original_shape(i) for i in json.loads(found)]

    def close(self, incident_id: str) -> bool:
        """Close a resolved incident; False when no incident has the id. Raises
        ``RefusedError`` for an incident that is not resolved."""
        try:
            self._store.close_incident(incident_id)
        except NotFoundError:
            return False
        return True

    def release(self) -> None:
        """Release the database file (as leaving a ``with`` block does); later calls
        raise ``StorageError``."""
        self._store.close()

    def reopen(self, incident_id: str, note: Optional[str] = None) -> bool:
        """Reopen a resolved or closed incident (its resolution stays on record); False
        when no incident has the id."""
        try:
            self._store.reopen(incident_id, note)
        except NotFoundError:
            return False
        return True

    def add_note(self, incident_id: str, text: str) -> bool:
        """Add a note to the timeline; False when no incident has the id."""
        try:
            self._store.note(incident_id, text)
        except NotFoundError:
            return False
        return True

    def migrate_error_history(self, path: str, skip_invalid: bool = False) -> Dict[str, Any]:
        """Stream an ``error_history.json`` (or JSON Lines) into the store, as
        ``incident bridge migrate``; returns its summary (records, migrated,
        already_present, linked, rejected, ...). Releases the GIL while it runs."""
        return json.loads(self._store.migrate(str(path), skip_invalid))

    def analyze(self) -> Dict[str, Any]:
        """``incident analyze``: mine every incident into patterns, store them, return
        ``incidents``, ``patterns`` and ``recommendations``."""
        return json.loads(self._store.analyze())

    def report(self, format: str = "json") -> Any:
        """The metrics report: ``json`` (a dict, as ``report --format json``) or
        ``markdown`` (a str)."""
        text = self._store.report(format)
        return json.loads(text) if format == "json" else text

    def __enter__(self) -> "IncidentManager":
        return self

    def __exit__(self, *exc: object) -> None:
        self._store.close()

    def __repr__(self) -> str:
        return f"IncidentManager({self._store.path!r})"
