"""The newsroom's articles (``/admin/articles``): the list with search and filters, the form
to write or edit one (with a server-rendered preview), scheduling, unpublishing and
corrections. Every change goes through the same use cases as ``articles add`` and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from publisher import store
from publisher.articles import publish
from publisher.articles.cleaning import ArticleProblems
from publisher.content import markdown_html, sanitise_html
from publisher.errors import InputError, NotFoundError
from publisher.newsroom.staff import Staff
from publisher.sources import inbox
from publisher.web.admin import inbox as inbox_area
from publisher.web.admin import session
from publisher.web.admin.context import Newsroom
from publisher.web.admin.trail import rows

PAGE = 50
MAX_ID = 2**31 - 1  # ids are 32-bit in both databases: a larger one is simply not there
FIELDS = (
    "title", "slug", "summary", "body", "published_at", "author", "editor", "categories",
    "image", "source_name", "source_url",
)  # fmt: skip
FLAGS = ("ai_assisted", "sponsored")
# The validator's keys (the article file keys) and the form field each problem is shown by.
FIELD_OF = {"body_html": "body", "source": "source_url", "": "title"}
YES_NO = {"": None, "yes": True, "no": False}
LOCAL = "%Y-%m-%dT%H:%M:%S"  # what <input type="datetime-local" step="1"> sends and shows


@dataclass
class Draft:
    """What the form holds: exactly what was typed, so nothing is lost on a problem."""

    values: dict[str, str]
    flags: dict[str, bool]
    body_format: str = "markdown"  # or "html", for articles that came as body_html
    base: str = ""  # the content hash the editor started from

    @classmethod
    def empty(cls) -> Draft:
        return cls({name: "" for name in FIELDS}, {name: False for name in FLAGS})

    @classmethod
    def of(cls, view: store.ArticleView, room: Newsroom) -> Draft:
        a = view.article
        html = bool(a.body_html and not a.body_markdown)
        values = {
            "title": a.title,
            "slug": a.slug,
            "summary": a.summary,
            "body": a.body_html if html else a.body_markdown,
            "published_at": a.published_at.astimezone(room.settings.zone).strftime(LOCAL),
            "author": a.author,
            "editor": a.editor,
            "categories": ", ".join(view.categories),
            "image": a.image,
            "source_name": a.source_name,
            "source_url": a.source_url,
        }
        flags = {"ai_assisted": a.ai_assisted, "sponsored": a.sponsored}
        return cls(values, flags, "html" if html else "markdown", a.content_hash)

    @classmethod
    def prefilled(cls, fields: Mapping[str, object]) -> Draft:
        """A new article's form filled with ``fields`` (``inbox.draft``: the form's names)."""
        draft = cls.empty()
        for name in FIELDS:
            value = fields.get(name)
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value)
            if value is not None:
                draft.values[name] = str(value)
        draft.body_format = "html" if fields.get("body_format") == "html" else "markdown"
        return draft

    @classmethod
    def posted(cls, form: FormData) -> Draft:
        values = {name: str(form.get(name, "")) for name in FIELDS}
        flags = {name: form.get(name) == "on" for name in FLAGS}
        body_format = "html" if form.get("body_format") == "html" else "markdown"
        return cls(values, flags, body_format, str(form.get("base", "")))

    def article_fields(self) -> dict[str, object]:
        """The article file keys (docs/reference/article-files.md) this draft stands for."""
        v = self.values
        fields: dict[str, object] = {
            "title": v["title"],
            "summary": v["summary"],
            "author": v["author"],
            "editor": v["editor"],
            "image": v["image"],
            "categories": [c.strip() for c in v["categories"].split(",") if c.strip()],
            "ai_assisted": self.flags["ai_assisted"],
            "sponsored": self.flags["sponsored"],
            ("body_html" if self.body_format == "html" else "body"): v["body"],
        }
        if v["slug"].strip():
            fields["slug"] = v["slug"]
        if v["published_at"].strip():
            fields["published_at"] = v["published_at"]
        if v["source_name"].strip() or v["source_url"].strip():
            fields["source"] = {"name": v["source_name"], "url": v["source_url"]}
        return fields

    def preview(self) -> str:
        """The body as readers will see it (sanitised HTML, safe to show as is)."""
        body = self.values["body"]
        return sanitise_html(body) if self.body_format == "html" else markdown_html(body)


def _problems(exc: InputError) -> dict[str, str]:
    if isinstance(exc, ArticleProblems):
        found: dict[str, str] = {}
        for key, message in exc.fields.items():
            found.setdefault(FIELD_OF.get(key, key), message)
        return found
    if exc.message.startswith("slug: "):
        return {"slug": exc.message.removeprefix("slug: ")}
    return {"": exc.message}


def _filter(request: Request) -> tuple[store.ArticleFilter, int, str]:
    """The list's filters from the query string, the page number, and what was wrong."""
    q = request.query_params
    problem = ""
    status = q.get("status", "")
    if status not in ("", *store.ARTICLE_STATUSES):
        status, problem = "", f"There is no status {status!r}: showing every status."
    flags = {}
    for name in ("sponsored", "ai_assisted"):
        given = q.get(name, "")
        if given not in YES_NO:
            given, problem = "", f"{name} is yes, no or empty: showing both."
        flags[name] = YES_NO[given]
    page = q.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 0
    if not number:
        number, problem = 1, f"There is no page {page!r}: showing the first."
    wanted = store.ArticleFilter(
        text=q.get("q", "").strip()[:200],
        status=status,
        category=q.get("category", "")[:200],
        sponsored=flags["sponsored"],
        ai_assisted=flags["ai_assisted"],
        author=q.get("author", "")[:200],
    )
    return wanted, number, problem


def _query(wanted: store.ArticleFilter, page: int) -> str:
    values = {
        "q": wanted.text,
        "status": wanted.status,
        "category": wanted.category,
        "sponsored": {None: "", True: "yes", False: "no"}[wanted.sponsored],
        "ai_assisted": {None: "", True: "yes", False: "no"}[wanted.ai_assisted],
        "author": wanted.author,
        "page": str(page) if page > 1 else "",
    }
    return urlencode({k: v for k, v in values.items() if v})


def router(room: Newsroom) -> APIRouter:
    routes = APIRouter()
    editor = session.requires("editor", room.engine, room.settings, room.clock)

    def choices() -> dict[str, Any]:
        with store.reading(room.engine) as db:
            return {"categories": store.category_list(db), "authors": store.authors(db)}

    def form_page(
        request: Request,
        who: Staff,
        draft: Draft,
        *,
        view: store.ArticleView | None = None,
        problems: dict[str, str] | None = None,
        preview: str | None = None,
        http_status: int = 200,
        **more: Any,
    ) -> HTMLResponse:
        extra: dict[str, Any] = {
            "origin": None,
            "from_item": None,
            "trail": [],
            "reports": [],
            "corrections": [],
            "status": "",
            "done": "",
        }
        if view is not None:
            article_id = view.article.id or 0
            with store.reading(room.engine) as db:
                entries = store.audit_entries(db, kind="article", subject_id=article_id)
                reports, _ = store.report_queue(db, article_id=article_id, offset=0, limit=50)
                corrections = store.correction_ids(db, article_id)
            linked = {r.correction_id: r.id for r, _ in reports if r.correction_id}
            extra = {
                "origin": inbox.article_origin(room.engine, article_id),
                "from_item": None,
                "trail": rows(entries),
                "reports": [r for r, _ in reports],
                "corrections": [
                    (cid, when, note, linked.get(cid)) for cid, when, note in corrections
                ],
                "status": view.status(room.clock()),
                "done": "",
            }
        extra.update(more)
        return room.page(
            request,
            "article_form.html",
            staff=who,
            http_status=http_status,
            draft=draft,
            view=view,
            problems=problems or {},
            preview=draft.preview() if preview is None else preview,
            zone=room.settings.zone.key,
            **extra,
        )

    def load(article_id: int) -> store.ArticleView:
        if not 0 < article_id <= MAX_ID:
            raise NotFoundError(f"no article {article_id}")
        return publish.article_by_id(room.engine, article_id)

    @routes.get("/articles", response_class=HTMLResponse)
    def article_list(request: Request, who: Staff = Depends(editor)) -> HTMLResponse:
        wanted, page, problem = _filter(request)
        now = room.clock()
        views, counts = publish.find_articles(
            room.engine, wanted, now=now, offset=(page - 1) * PAGE, limit=PAGE
        )
        total = counts[wanted.status] if wanted.status else counts["all"]
        status_links = {
            name: _query(store.ArticleFilter(**{**wanted.__dict__, "status": name}), 1)
            for name in ("", *store.ARTICLE_STATUSES)
        }
        return room.page(
            request,
            "articles.html",
            staff=who,
            http_status=400 if problem else 200,
            views=views,
            now=now,
            wanted=wanted,
            counts=counts,
            total=total,
            first=(page - 1) * PAGE + 1,
            page=page,
            previous=_query(wanted, page - 1) if page > 1 else None,
            following=_query(wanted, page + 1) if page * PAGE < total else None,
            status_links=status_links,
            problem=problem,
            **choices(),
        )

    @routes.get("/articles/new", response_class=HTMLResponse)
    def new_article(
        request: Request, from_item: str = "", who: Staff = Depends(editor)
    ) -> HTMLResponse:
        if not from_item:
            return form_page(request, who, Draft.empty())
        # Opened from the inbox: the item's material, to adapt (issue 14).
        try:
            item = inbox_area.openable(room, from_item)
        except inbox_area.ItemProblem as exc:
            return inbox_area.problem_page(room, request, who, exc)
        draft = Draft.prefilled(inbox.draft(room.engine, item.item.id or 0))
        return form_page(request, who, draft, from_item=item)

    @routes.post("/articles/preview", response_class=HTMLResponse)
    async def preview(request: Request, who: Staff = Depends(editor)) -> HTMLResponse:
        """The body rendered as readers will see it (htmx swaps it into the form)."""
        draft = Draft.posted(await request.form())
        html = room.env.get_template("admin/_article_preview.html").render(preview=draft.preview())
        return HTMLResponse(html)

    async def save(request: Request, who: Staff, view: store.ArticleView | None) -> Response:
        form = await request.form()
        draft = Draft.posted(form)
        item, then = None, None
        if view is None and form.get("from_item"):
            try:
                item = inbox_area.openable(room, str(form.get("from_item")))
            except inbox_area.ItemProblem as exc:
                return inbox_area.problem_page(room, request, who, exc)
            then = inbox_area.linker(item, actor=who.email, now=room.clock())
        if form.get("action") == "preview":
            return form_page(
                request, who, draft, view=view, preview=draft.preview(), from_item=item
            )
        if item is not None and not draft.values["editor"].strip():
            problems = {"editor": "Give your name: it is shown to readers as the editor."}
            return form_page(
                request, who, draft, problems=problems, http_status=400, from_item=item
            )
        article_id = view.article.id if view is not None else None
        try:
            saved, changed = publish.save_article(
                room.engine,
                room.settings,
                draft.article_fields(),
                article_id=article_id,
                base_hash=(draft.base or None) if view is not None else None,
                now=room.clock(),
                actor=who.email,
                then=then,
            )
        except InputError as exc:
            return form_page(
                request,
                who,
                draft,
                view=view,
                problems=_problems(exc),
                http_status=400,
                from_item=item,
            )
        done = "saved" if changed else "unchanged"
        return RedirectResponse(f"/admin/articles/{saved}?done={done}", status_code=303)

    @routes.post("/articles/new", response_class=HTMLResponse)
    async def create(request: Request, who: Staff = Depends(editor)) -> Response:
        return await save(request, who, None)

    @routes.get("/articles/{article_id}", response_class=HTMLResponse)
    def article_page(
        request: Request, article_id: int, done: str = "", who: Staff = Depends(editor)
    ) -> Response:
        view = load(article_id)
        return form_page(request, who, Draft.of(view, room), view=view, done=done[:20])

    @routes.post("/articles/{article_id}", response_class=HTMLResponse)
    async def edit(request: Request, article_id: int, who: Staff = Depends(editor)) -> Response:
        return await save(request, who, load(article_id))

    @routes.post("/articles/{article_id}/status", response_class=HTMLResponse)
    async def set_status(
        request: Request, article_id: int, who: Staff = Depends(editor)
    ) -> Response:
        view = load(article_id)
        wanted = str((await request.form()).get("status", ""))
        if wanted not in ("published", "unpublished"):
            raise InputError("choose publish or unpublish")
        changed = publish.set_article_status(
            room.engine, view.article.slug, wanted, now=room.clock(), actor=who.email
        )
        done = wanted if changed else "unchanged"
        return RedirectResponse(f"/admin/articles/{article_id}?done={done}", status_code=303)

    @routes.post("/articles/{article_id}/corrections", response_class=HTMLResponse)
    async def correct(request: Request, article_id: int, who: Staff = Depends(editor)) -> Response:
        view = load(article_id)
        note = str((await request.form()).get("note", ""))
        try:
            publish.correct_article(
                room.engine, view.article.slug, note, now=room.clock(), actor=who.email
            )
        except InputError as exc:
            return form_page(
                request,
                who,
                Draft.of(view, room),
                view=view,
                http_status=400,
                note=note,
                note_error=exc.message,
            )
        return RedirectResponse(f"/admin/articles/{article_id}?done=corrected", status_code=303)

    return routes
