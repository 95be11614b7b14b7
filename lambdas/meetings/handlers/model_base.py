"""The base of every API request and response model: its validator and schema are built on
first use, not when the class is defined.

Defining a pydantic model otherwise builds its core schema at import, tens of models on every
cold start of the api function although one request uses one or two of them (the response
models serve only the OpenAPI document). The rules are the same either way: only when they are
built changes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    model_config = ConfigDict(defer_build=True)

    def __repr__(self) -> str:
        """The model's name and the fields the request set, never their values: Powertools'
        resolver formats a route's arguments into a DEBUG message on every request, so a full
        repr would put request bodies (room names, tags, webhook URLs) into any DEBUG log, and
        formatting it took longer than validating the body did."""
        return f"{type(self).__name__}(set={sorted(self.model_fields_set)})"
