"""One view that shows ``request.user``."""

from django.http import HttpRequest, HttpResponse
from django.urls import re_path


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(
        f"Signed in to Django as {user.get_username()} (authenticated: {user.is_authenticated})",
        content_type="text/plain; charset=utf-8",
    )


urlpatterns = [re_path(r"^.*$", whoami)]
