"""Request and response shapes as the OpenAPI document shows them (API.md §POCs).

Request models check JSON types only; the rules with their own messages (URL normalization, lengths,
languages, tags) live in `poc_api.validation`, and the limits they enforce are declared here in the
JSON schema so that the document tells clients exactly what is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from poc_api.search import SORTS
from poc_api.validation import DESCRIPTION_MAX, NAME_MAX, OWNER_MAX, QUERY_MAX, TAG_MAX_LENGTH, TAGS_MAX, TAGS_RAW_MAX

_EXAMPLE_POC: dict[str, Any] = {
    "id": "0b8f7c1e-3f7a-4d7e-9a59-5b0e6f1d2c3a",
    "name": "Integração de pagamentos PIX",
    "description": "Cobrança instantânea com webhooks e conciliação automática.",
    "github_url": "https://github.com/acme/pix-checkout",
    "language": "Go",
    "tags": ["payments", "pix", "fintech"],
    "owner_id": "5d2c9d3e-8a51-4b43-9c8e-1f0a7e6b4d21",
    "created_at": "2024-05-01T12:00:00.000000Z",
    "updated_at": "2024-05-02T08:30:00.000000Z",
}


def _name(default: Any = ...) -> Any:
    return Field(
        default,
        description=f"1-{NAME_MAX} characters after trimming; inner whitespace is collapsed.",
        json_schema_extra={"minLength": 1, "maxLength": NAME_MAX},
        examples=["Integração de pagamentos PIX"],
    )


def _github_url(default: Any = ...) -> Any:
    return Field(
        default,
        description=(
            "The repository's GitHub URL, normalized to `https://github.com/{owner}/{repo}`: `http://`, no scheme, "
            "`www.`, host case, a trailing slash, `.git` and the SSH form `git@github.com:owner/repo.git` are "
            "accepted. Any other host is refused: only GitHub is supported. One POC per repository per tenant "
            "(compared case-insensitively)."
        ),
        json_schema_extra={"maxLength": 2048},
        examples=["https://github.com/acme/pix-checkout"],
    )


def _language(default: Any = ...) -> Any:
    return Field(
        default,
        description=(
            "A programming language as GitHub names it (`Python`, `TypeScript`, `C#`, `Jupyter Notebook`...), "
            "matched case-insensitively; common aliases such as `golang` or `cpp` are accepted. The stored value is "
            "the canonical name. An unknown name is refused with the closest matches."
        ),
        json_schema_extra={"maxLength": 64},
        examples=["python"],
    )


def _tags(default: Any = ..., **factory: Any) -> Any:
    return Field(
        default,
        **factory,
        description=(
            f"Each tag becomes a lowercase slug (`Machine Learning` → `machine-learning`, `C#` → `c-sharp`), at most "
            f"{TAG_MAX_LENGTH} characters; duplicates are dropped; at most {TAGS_MAX} tags."
        ),
        json_schema_extra={"maxItems": TAGS_RAW_MAX},
        examples=[["Payments", "PIX", "fintech"]],
    )


def _description(default: Any = ...) -> Any:
    return Field(
        default,
        description=f"Free text, at most {DESCRIPTION_MAX} characters. Searched together with the name.",
        json_schema_extra={"maxLength": DESCRIPTION_MAX},
        examples=["Cobrança instantânea com webhooks e conciliação automática."],
    )


class PocCreate(BaseModel):
    """A POC to register; the caller becomes its owner."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Integração de pagamentos PIX",
                    "github_url": "https://github.com/acme/pix-checkout",
                    "language": "go",
                    "tags": ["Payments", "PIX"],
                    "description": "Cobrança instantânea com webhooks.",
                }
            ]
        },
    )
    name: str = _name()
    github_url: str = _github_url()
    language: str = _language()
    tags: list[str] = _tags(default_factory=list)
    description: str | None = _description(None)


class PocUpdate(BaseModel):
    """Fields to change; absent fields stay as they are. `description: null` clears the description."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"tags": ["payments", "pix", "open-finance"]}, {"name": "PIX v2"}]},
    )
    name: str | None = _name(None)
    github_url: str | None = _github_url(None)
    language: str | None = _language(None)
    tags: list[str] | None = _tags(None)
    description: str | None = _description(None)


class Poc(BaseModel):
    """A POC as stored (normalized values)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_POC]})
    id: str = Field(description="Opaque identifier (a UUID).", json_schema_extra={"format": "uuid"})
    name: str
    description: str = Field(description="Empty when none was given.")
    github_url: str = Field(
        description="Normalized: `https://github.com/{owner}/{repo}`.",
        json_schema_extra={"pattern": r"^https://github\.com/[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$"},
    )
    language: str = Field(description="Canonical language name.")
    tags: list[str] = Field(description="Lowercase slugs.")
    owner_id: str = Field(description="The user who registered it (token subject).")
    created_at: str = Field(description="RFC 3339, UTC.", json_schema_extra={"format": "date-time"})
    updated_at: str = Field(description="RFC 3339, UTC.", json_schema_extra={"format": "date-time"})


class PocPage(BaseModel):
    """One page of a search; pass `next_cursor` back as `cursor` (with the same filters) for the next."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE_POC], "next_cursor": None}]})
    items: list[Poc]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")


class FieldProblem(BaseModel):
    field: str = Field(description="The field or parameter, e.g. `github_url`, `tags.2`, `cursor`.")
    code: str = Field(description="Machine-readable: `unsupported_host`, `too_long`, `unknown_language`...")
    message: str = Field(description="Human-readable explanation.")


class ExistingPoc(BaseModel):
    id: str
    name: str
    github_url: str


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://pocdojo.example.com/problems/validation",
                    "title": "Validation failed",
                    "status": 422,
                    "detail": "github_url: only GitHub repository URLs are supported",
                    "instance": "/v1/pocs",
                    "errors": [
                        {
                            "field": "github_url",
                            "code": "unsupported_host",
                            "message": "only GitHub repository URLs are supported ('gitlab.com' is not github.com): "
                            "use https://github.com/{owner}/{repo}",
                        }
                    ],
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(default=None, description="Present on 422: one entry per field.")
    existing_poc: ExistingPoc | None = Field(default=None, description="Present on 409: the POC already there.")


class FacetCount(BaseModel):
    value: str = Field(description="A canonical language name, or a tag slug.")
    count: int = Field(ge=1, description="POCs matching the search with this value.")


class PocFacets(BaseModel):
    """Counts per language and per tag of the POCs a search matches, most frequent first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"languages": [{"value": "Python", "count": 12}], "tags": [{"value": "pix", "count": 4}]}]
        }
    )
    languages: list[FacetCount]
    tags: list[FacetCount]


class ExportFilters(BaseModel):
    """The parameters of `GET /v1/pocs` that choose and order POCs, with the same rules and errors."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"q": "pagamentos", "tag": ["pix"], "owner": "me", "sort": "name"}]},
    )
    q: str | None = Field(
        default=None, description="As `GET /v1/pocs`' `q`.", json_schema_extra={"maxLength": QUERY_MAX}
    )
    language: str | None = Field(default=None, description="As `GET /v1/pocs`' `language`.")
    tag: list[str] = Field(
        default_factory=list,
        description="As `GET /v1/pocs`' repeated `tag`: a POC must carry every tag given.",
        json_schema_extra={"maxItems": TAGS_RAW_MAX},
    )
    owner: str | None = Field(
        default=None, description="`me` or a user id.", json_schema_extra={"maxLength": OWNER_MAX}
    )
    created_from: str | None = Field(default=None, description="As `GET /v1/pocs`' `created_from`.")
    created_to: str | None = Field(default=None, description="As `GET /v1/pocs`' `created_to`.")
    sort: str | None = Field(
        default=None,
        description="As `GET /v1/pocs`' `sort` (default: `relevance` with `q`, else `-created_at`).",
        json_schema_extra={"anyOf": [{"type": "string", "enum": list(SORTS)}, {"type": "null"}]},
    )


class ExportCreate(BaseModel):
    """The search to export."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"filters": {"q": "pix"}}]})
    filters: ExportFilters = Field(
        default_factory=ExportFilters, description="The search's filters; none: every POC of the tenant."
    )


class ExportCreated(BaseModel):
    """A new export: read it with its secret before it expires."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "7a1f0c3e-2b4d-4e8f-9a6b-1c2d3e4f5a6b",
                    "count": 42,
                    "secret": "pex1.5d2c9d3e-8a51-4b43-9c8e-1f0a7e6b4d21.q0d8Xl1bN4m2v7K9c3Zr5T6y8U1i2O3p4A5s6D7f8G9",
                    "expires_at": "2024-05-02T12:00:00.000000Z",
                }
            ]
        }
    )

    id: str = Field(description="The export's id (a UUID).", json_schema_extra={"format": "uuid"})
    count: int = Field(ge=0, description="How many POCs it holds.")
    secret: str = Field(description="Send it as `Export-Secret` to read or delete the export. Shown once.")
    expires_at: str = Field(description="RFC 3339, UTC.", json_schema_extra={"format": "date-time"})


class ExportItems(BaseModel):
    """POCs of an export in the search's order, after a position."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE_POC], "next": None, "count": 1}]})
    items: list[Poc] = Field(description="POC documents as `GET /v1/pocs` served them when the export was made.")
    next: int | None = Field(description="Pass it as `after` for the next page; null on the last.")
    count: int = Field(ge=0, description="How many POCs the export holds in all.")
