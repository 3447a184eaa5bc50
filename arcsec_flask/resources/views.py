"""Generic views for owned resources, as Django REST framework's generic views are.

A resource module declares its two MethodViews with `repo = <repo module>` and writes its
verbs, decorated with its own schemas, as one-line calls to the helpers here. The verbs a
resource has are the methods its classes define: nothing is added or removed at run time.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from flask import g
from flask.views import MethodView

from ..domain.errors import NotFound
from ..domain.ids import canonical_uuid
from ..web.db import get_db
from .pagination import paginate


class OwnedRepo(Protocol):
    """What a repo module offers for an owned kind (the verbs need only their part)."""

    def list_(
        self,
        conn: Any,
        owner_id: int,
        filters: dict,
        limit: int,
        offset: int,
        after: int | None,
        before: int | None,
    ) -> Any: ...
    def get(self, conn: Any, owner_id: int, key: Any) -> dict[str, Any]: ...


def uuid_or_404(value: str) -> str:
    """A path UUID in canonical form; anything else is a 404 (docs/API.md §1)."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise NotFound()
    return canonical


class OwnedCollection(MethodView):
    """/<resource>/: the caller's (or the portal's) objects of one kind."""

    repo: ClassVar[Any]

    def list_page(self, args: dict[str, Any]) -> dict[str, Any]:
        return paginate(
            args,
            lambda f, n, skip, after, before: self.repo.list_(
                get_db(), g.owner_id, f, n, skip, after, before
            ),
            keyset=True,
        )

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.repo.create(get_db(), g.owner_id, data)


class OwnedItem(MethodView):
    """/<resource>/<uuid>/: one object of the owner's; another's is a 404."""

    repo: ClassVar[Any]

    def key(self, value: str) -> Any:
        return uuid_or_404(value)

    def retrieve(self, value: str) -> dict[str, Any]:
        return self.repo.get(get_db(), g.owner_id, self.key(value))

    def update(self, value: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.repo.update(get_db(), g.owner_id, self.key(value), data)

    def destroy(self, value: str) -> Any:
        return self.repo.delete(get_db(), g.owner_id, self.key(value))
