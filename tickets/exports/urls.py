from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("", views.export_home, name="home"),
    path("archive/", views.export_archive, name="archive"),
    path("list/", views.export_list, name="list"),
    path("<int:pk>/download/", views.export_download, name="download"),
]
