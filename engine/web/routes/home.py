"""The start page: the sections the signed-in user's role may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from engine.web.accounts import WebUser
from engine.web.context import signed_in
from engine.web.pages import render

router = APIRouter()


@router.get("/")
async def home(request: Request, _user: Annotated[WebUser, Depends(signed_in)]) -> Response:
    """Where a signed-in person starts: their sections."""
    return render(request, "home.html", {"title": "Your work"})
