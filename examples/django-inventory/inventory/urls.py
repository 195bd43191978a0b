from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz),
    path("items", views.Items.as_view()),
]
