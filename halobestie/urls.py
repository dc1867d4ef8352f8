"""The project's URLs: each app routes its own."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter
from django.views.defaults import bad_request, page_not_found, server_error
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common import errors, health
from common.integers import IdConverter

register_converter(IdConverter, "id")  # before the apps' URLs, which use `<id:...>`

admin.site.site_header = "Halobestie admin"
admin.site.site_title = "Halobestie admin"
admin.site.index_title = "Accounts, settings and records"
admin.site.site_url = "/control-center/"  # the admin's "View site"

urlpatterns = [
    path("", RedirectView.as_view(url="/control-center/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="api-docs",
    ),
    path("api/health/live", health.live, name="health-live"),
    path("api/health/ready", health.ready, name="health-ready"),
    path("api/health/", health.ready, name="health"),  # the address probes used before live/ready
    path("api/control-center/", include("activity.api_urls")),
    path("api/", include("appconfig.urls")),
    path("api/", include("pairing.urls")),
    path("control-center/", include("activity.urls")),
]


if settings.BENCH_ROUTES:
    from bench.views import three_queries

    urlpatterns.append(path("bench/three-queries/", three_queries))


def handler400(request, exception=None):
    """A request Django refuses before any view (too many parameters, a bad Host)."""
    if request.path.startswith("/api/"):
        return errors.json_bad_request(request, exception)
    return bad_request(request, exception)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return errors.json_not_found(request, exception)
    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return errors.json_server_error(request)
    return server_error(request)
