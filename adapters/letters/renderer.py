"""Letters from Jinja2 templates a policy owner edits, rendered to printable PDF.

Owns finding letter templates (package data under `adapters/letters/templates/`, or a folder the
LA names), rendering them in Jinja2's sandbox with undefined names as errors, the template
version (sha256 over the template and every template it extends or includes), and laying the
text out as an A4 PDF. Does not own filing the document or recording it on the case
(`engine/effects/outbox.py`).

Template text is plain: a line starting `# ` is a bold heading; a blank line separates
paragraphs; everything else is wrapped text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from engine.effects.ports import RenderedLetter
from engine.errors import InputError

log = logging.getLogger(__name__)

SUFFIX = ".txt.j2"
MEDIA_TYPE = "application/pdf"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)
"""Unicode fonts tried in turn (or CME_LETTER_FONT); without one, core Helvetica (Latin-1)."""


def template_environment(folder: Path | None, *, package: str) -> SandboxedEnvironment:
    """A sandboxed Jinja2 environment over `folder`, or the templates shipped in `package`."""
    if folder is not None:
        loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(folder), encoding="utf-8")
    else:
        loader = jinja2.FunctionLoader(lambda name: _package_template(package, name))
    return SandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text and PDF: nothing here is HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _package_template(package: str, name: str) -> str | None:
    try:
        return resources.files(package).joinpath("templates", name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None


def template_version(env: jinja2.Environment, name: str) -> str:
    """sha256 over the template's text and, in order, every template it extends or includes."""
    digest = hashlib.sha256()
    seen: set[str] = set()

    def add(current: str) -> None:
        if current in seen:
            return
        seen.add(current)
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, current)
        digest.update(current.encode() + b"\0" + source.encode() + b"\0")
        for ref in sorted(r for r in meta.find_referenced_templates(env.parse(source)) if r):
            add(ref)

    add(name)
    return digest.hexdigest()


def render_text(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """The template filled in; an undefined name or a template error is an `InputError`."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise InputError(f"no template {name!r}") from None
    except jinja2.UndefinedError as exc:
        raise InputError(
            f"template {name!r} uses something the case does not have: {exc}"
        ) from None
    except jinja2.TemplateError as exc:
        raise InputError(f"template {name!r} cannot be rendered: {exc}") from None


class PdfLetterRenderer:
    """Renders `adapters/letters/templates/<template>.txt.j2` with a case's details to a PDF."""

    def __init__(self, folder: Path | None = None, *, font: str | None = None) -> None:
        self.env = template_environment(folder, package="adapters.letters")
        self.font = font or os.environ.get("CME_LETTER_FONT") or _find_font()

    def has_template(self, template: str) -> bool:
        """Whether a letter template of this name exists."""
        try:
            self.env.get_template(template + SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        return True

    def render(self, template: str, context: dict[str, Any]) -> RenderedLetter:
        """The letter `template` filled in with `context`, as a PDF."""
        name = template + SUFFIX
        text = render_text(self.env, name, context)
        case_id = str((context.get("case") or {}).get("id") or "letter")
        on = context.get("on")
        stamp = on.isoformat() if isinstance(on, dt.date) else "undated"
        return RenderedLetter(
            template=template,
            template_version=template_version(self.env, name),
            filename=f"{case_id}-{template}-{stamp}.pdf",
            content=self.pdf(text, title=template),
            media_type=MEDIA_TYPE,
        )

    def pdf(self, text: str, *, title: str) -> bytes:
        """Lay `text` out on A4 pages."""
        from fpdf import FPDF

        doc = FPDF(format="A4")
        doc.set_title(title)
        doc.set_creator("cme-engine")
        doc.set_margins(20, 20, 20)
        doc.set_auto_page_break(auto=True, margin=20)
        family = "Helvetica"
        if self.font:
            doc.add_font("Letter", "", self.font)
            doc.add_font("Letter", "B", self.font)
            family = "Letter"
        doc.add_page()
        for block in _blocks(text):
            if block.startswith("# "):
                doc.set_font(family, "B", 12)
                doc.multi_cell(0, 7, self._fit(block[2:]), new_x="LMARGIN", new_y="NEXT")
            else:
                doc.set_font(family, "", 11)
                doc.multi_cell(0, 6, self._fit(block), new_x="LMARGIN", new_y="NEXT")
            doc.ln(3)
        return bytes(doc.output())

    def _fit(self, text: str) -> str:
        if self.font:
            return text
        # Core fonts hold Latin-1 only; a name outside it would stop the letter altogether.
        return text.encode("latin-1", "replace").decode("latin-1")


def _blocks(text: str) -> list[str]:
    """Paragraphs (separated by blank lines) and `# ` headings (one line each)."""
    blocks: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.splitlines()
        while lines and lines[0].startswith("# "):
            blocks.append(lines.pop(0))
        if lines:
            blocks.append("\n".join(line.rstrip() for line in lines))
    return blocks


def _find_font() -> str | None:
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    log.warning("no Unicode font found; letters use Helvetica (Latin-1 only)")
    return None


__all__ = ["PdfLetterRenderer", "render_text", "template_environment", "template_version"]
