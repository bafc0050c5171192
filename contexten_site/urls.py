"""Top-level routes. Each app contributes its REST resources through `api_routes`."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from orchestrator.events.urls import webhook_urlpatterns
from orchestrator.flags.ofrep import MOUNT as OFREP_MOUNT
from orchestrator.health.dashboard import dashboard_page
from orchestrator.health.scrape import metrics_view

router = DefaultRouter()
# Each app's `api_routes(router)` registers its viewsets; listed here, explicitly.
API_ROUTE_MODULES: list[str] = [
    "orchestrator.events.api",
    "orchestrator.flags.api",
    "orchestrator.health.api",
    "orchestrator.workflows.api",
    "extensions.config.api",
    "extensions.views",
]

for dotted in API_ROUTE_MODULES:
    __import__(dotted, fromlist=["api_routes"]).api_routes(router)

admin.site.site_header = "Contexten control plane"
admin.site.site_title = "Contexten"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Browsers ask every site for /favicon.ico; answer with the icon, not a logged 404.
    path("favicon.ico", RedirectView.as_view(url=static("core/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        staff_member_required(SpectacularSwaggerView.as_view(url_name="schema")),
        name="swagger-ui",
    ),
    path("api/", include(router.urls)),
    path("health/", include("orchestrator.health.urls")),
    path("health", RedirectView.as_view(url="/health/", permanent=False)),
    path("dashboard/", dashboard_page, name="dashboard"),
    path("metrics", metrics_view, name="metrics"),
    # Webhooks (orchestrator/events + integrations/*/webhook) and OFREP (orchestrator/flags)
    # add their paths below.
    *webhook_urlpatterns,
    path(OFREP_MOUNT, include("orchestrator.flags.urls")),
]
