from django.urls import path

from orchestrator.health import views

app_name = "health"
urlpatterns = [
    path("", views.health, name="health"),
    path("live", views.live, name="live"),
    path("live/", views.live),
    path("ready", views.ready, name="ready"),
    path("ready/", views.ready),
]
