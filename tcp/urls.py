from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from certification import api as certification_api
from discovery import api as discovery_api
from engagements import api as engagements_api
from hiring import api as hiring_api
from scorecard import api as scorecard_api
from tcp import views
from tcp.api import SyncRouter

api = SyncRouter()
for module in (engagements_api, discovery_api, certification_api, scorecard_api, hiring_api):
    module.register(api)

handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organisation/", views.organisation_settings, name="organisation_settings"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke_view, name="api_token_revoke"),
    path("", include("engagements.urls")),
    path("", include("discovery.urls")),
    path("", include("certification.urls")),
    path("", include("hiring.urls")),
    path("", include("scorecard.urls")),
    path("api/v1/", include(api.urls)),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "api/docs/",
        # The split view loads its start-up script from a URL: no inline script for the CSP.
        login_not_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", template_name="tcp/swagger_ui.html"
            )
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]
