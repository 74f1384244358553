"""`GET /problems/{slug}`: what a problem `type` URL explains, from `runtime.problems.PROBLEM_TYPES`.

Unauthenticated, like the API docs. An HTML page by default (a person follows the link), JSON when the
client asks for `application/json`; `GET /problems` lists every type.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from runtime.errors import NotFound
from runtime.problems import PROBLEM_TYPES, ProblemType

router = APIRouter()


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def _as_json(problem: ProblemType) -> dict[str, object]:
    return {"slug": problem.slug, "status": problem.status, "title": problem.title, "explanation": problem.explanation}


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body>{body}</body></html>"
    )


def _section(problem: ProblemType) -> str:
    return (
        f'<h2 id="{escape(problem.slug)}">{problem.status} {escape(problem.title)}</h2>'
        f"<p><code>{escape(problem.slug)}</code>: {escape(problem.explanation)}</p>"
    )


@router.get("/problems", include_in_schema=False)
async def problem_types(request: Request) -> Response:
    """Every problem type the services answer with."""
    if _wants_json(request):
        return JSONResponse([_as_json(p) for p in PROBLEM_TYPES.values()])
    sections = "".join(_section(p) for p in PROBLEM_TYPES.values())
    return _page("POC Dojo problem types", f"<h1>POC Dojo problem types</h1>{sections}")


@router.get("/problems/{slug}", include_in_schema=False)
async def problem_page(slug: str, request: Request) -> Response:
    """One problem type's explanation; 404 for a slug the registry does not hold."""
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise NotFound(f"No problem type '{slug[:60]}': GET /problems lists them.")
    if _wants_json(request):
        return JSONResponse(_as_json(problem))
    return _page(problem.title, f"<h1>{problem.status} {escape(problem.title)}</h1>{_section(problem)}")
