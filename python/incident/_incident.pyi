"""Type stubs of the native module `incident._incident`. Methods return JSON text; the
`incident` package turns it into dicts."""

from os import PathLike
from typing import List, Optional, Union

class IncidentError(Exception): ...
class NotFoundError(IncidentError): ...
class InvalidInputError(IncidentError): ...
class RefusedError(IncidentError): ...
class StorageError(IncidentError): ...

class Store:
    def __init__(self, path: Union[str, PathLike[str]]) -> None: ...
    @property
    def path(self) -> str: ...
    def close(self) -> None: ...
    def create(
        self,
        category: str,
        priority: str,
        title: str,
        description: str,
        components: List[str],
        impact: str,
        assignee: Optional[str] = None,
        at: Optional[str] = None,
    ) -> str: ...
    def get(self, id: str) -> Optional[str]: ...
    def update(
        self,
        id: str,
        status: Optional[str] = None,
        priority: Optional[str] = None,
        category: Optional[str] = None,
        assignee: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        impact: Optional[str] = None,
        add_components: List[str] = ...,
        note: Optional[str] = None,
        at: Optional[str] = None,
    ) -> str: ...
    def resolve(
        self,
        id: str,
        actions: List[str],
        root_cause: str,
        preventive: List[str] = ...,
        knowledge: List[str] = ...,
        at: Optional[str] = None,
    ) -> str: ...
    def close_incident(self, id: str, at: Optional[str] = None) -> str: ...
    def reopen(self, id: str, note: Optional[str] = None, at: Optional[str] = None) -> str: ...
    def note(self, id: str, text: str, at: Optional[str] = None) -> str: ...
    def query(
        self,
        statuses: List[str] = ...,
        categories: List[str] = ...,
        priorities: List[str] = ...,
        components: List[str] = ...,
        assignees: List[str] = ...,
        patterns: List[str] = ...,
        origins: List[str] = ...,
        since: Optional[str] = None,
        until: Optional[str] = None,
        limit: Optional[int] = None,
        oldest_first: bool = False,
    ) -> str: ...
    def migrate(self, path: Union[str, PathLike[str]], skip_invalid: bool = False) -> str: ...
    def analyze(self) -> str: ...
    def report(self, format: str = "markdown") -> str: ...
