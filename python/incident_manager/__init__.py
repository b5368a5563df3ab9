"""The original tool's module name: ``from incident_manager import IncidentManager`` runs
unchanged over the Rust store."""

from incident import (
    IncidentError,
    IncidentManager,
    InvalidInputError,
    NotFoundError,
    RefusedError,
    StorageError,
)

__all__ = [
    "IncidentManager",
    "IncidentError",
    "InvalidInputError",
    "NotFoundError",
    "RefusedError",
    "StorageError",
]
