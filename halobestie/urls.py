from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from activity.views import MitraActivityAPIView

from . import errors

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="api-docs",
    ),
    path("api/control-center/mitra-activity/", MitraActivityAPIView.as_view(), name="api-mitra-activity"),
    path("api/", include("pairing.urls")),
    path("control-center/", include("activity.urls")),
]


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return errors.json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return errors.json_server_error(request)
    from django.views.defaults import server_error

    return server_error(request)
