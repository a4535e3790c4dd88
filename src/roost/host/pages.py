"""Server-rendered pages: Jinja2 over each app's `templates/` folder and the shared web layout.

A page template looks in its own app's folder first, then in `roost/web/templates` (the shared
`base.html`, `home.html`, `error.html`), then in the host's own templates; if the shared layout is
missing, a minimal built-in `base.html` keeps every page rendering.

Every template gets: `principal` (the signed-in `Principal` or None), `apps` (navigation:
`[{name, title, href}]`), `app` (the page's app: `{name, title}`), `request` (`RequestInfo`),
`dev_mode`, plus whatever the page function returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from roost.cloud.functions import App, Registry, RequestInfo
from roost.cloud.identity import Principal

WEB_TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
HOST_TEMPLATES = Path(__file__).resolve().parent / "templates"

FALLBACK = {
    "base.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ title | default(app.title if app else "Roost") }}{% endblock %}</title>
</head><body>
<header><a href="/">Roost</a>{% for a in apps %} · <a href="{{ a.href }}">{{ a.title }}</a>
{% endfor %}{% if principal %} · {{ principal.email }}{% endif %}</header>
<main>{% block content %}{% endblock %}</main>
</body></html>""",
    "error.html": """{% extends "base.html" %}
{% block title %}{{ problem.title }}{% endblock %}
{% block content %}<h1>{{ problem.title }}</h1><p>{{ problem.detail }}</p>
{% if problem.errors %}<ul>{% for e in problem.errors %}
<li>{{ e.loc[1:] | join(".") }}: {{ e.msg }}</li>{% endfor %}</ul>{% endif %}
<p><small>{{ problem.status }} · {{ problem.code }} · request {{ problem.request_id }}</small></p>
{% endblock %}""",
    "home.html": """{% extends "base.html" %}
{% block content %}<h1>Roost</h1><ul>{% for a in apps %}
<li><a href="{{ a.href }}">{{ a.title }}</a></li>{% endfor %}</ul>{% endblock %}""",
}


class Pages:
    """One Jinja environment per app (its own folder first), built on first use."""

    def __init__(self, registry: Registry, *, dev_mode: bool) -> None:
        self.registry = registry
        self.dev_mode = dev_mode
        self._envs: dict[str | None, jinja2.Environment] = {}
        self.nav = [{"name": a.name, "title": a.title, "href": a.home_path}
                    for a in registry.apps if a.home_path]

    def env(self, app: App | None) -> jinja2.Environment:
        key = app.name if app else None
        if key not in self._envs:
            folders = [str(p) for p in (app.templates if app else None, WEB_TEMPLATES,
                                        HOST_TEMPLATES) if p is not None and p.is_dir()]
            loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(folders),
                                          jinja2.DictLoader(FALLBACK)])
            env = jinja2.Environment(loader=loader, autoescape=True,
                                     undefined=jinja2.ChainableUndefined,
                                     auto_reload=self.dev_mode)
            env.globals.update(apps=self.nav, dev_mode=self.dev_mode)
            self._envs[key] = env
        return self._envs[key]

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None,
        *,
        app: App | None,
        principal: Principal | None,
        request: RequestInfo | None,
    ) -> str:
        values: dict[str, Any] = {"principal": principal, "request": request,
                                  "app": {"name": app.name, "title": app.title} if app else None}
        values.update(context or {})
        return self.env(app).get_template(template).render(values)
