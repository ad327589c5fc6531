"""Email subjects and bodies from Jinja2 templates a policy owner edits.

Owns `adapters/notify/templates/<template>.txt.j2`: the first line is `Subject: …`, then a blank
line, then the body. Rendered in Jinja2's sandbox; an undefined name is an error, not a blank.
Each template carries only what its recipient needs (data minimisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from adapters.letters.renderer import render_text, template_environment
from engine.errors import InputError

SUFFIX = ".txt.j2"


class TemplateComposer:
    """The engine's `MessageComposer` over the shipped (or an LA's own) email templates."""

    def __init__(self, folder: Path | None = None) -> None:
        self.env = template_environment(folder, package="adapters.notify")

    def has_template(self, template: str) -> bool:
        """Whether an email template of this name exists."""
        try:
            self.env.get_template(template + SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        return True

    def compose(self, template: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """(subject, body) of `template` filled in with `context`."""
        text = render_text(self.env, template + SUFFIX, context)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise InputError(f"email template {template!r} must start with a 'Subject: …' line")
        subject = " ".join(first.removeprefix("Subject:").split())
        return subject, body.lstrip("\n")


__all__ = ["TemplateComposer"]
