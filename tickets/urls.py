from django.urls import path

from . import refund_views, views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_create, name="create"),
    path("<int:number>/", views.ticket_detail, name="detail"),
    path("<int:number>/reply/", views.ticket_reply, name="reply"),
    path("<int:number>/status/", views.ticket_status, name="status"),
    path("<int:number>/spam/", views.ticket_spam, name="spam"),
    path("<int:number>/not-spam/", views.ticket_unspam, name="unspam"),
    path("<int:number>/priority/", views.ticket_priority, name="priority"),
    path("<int:number>/assign/", views.ticket_assign, name="assign"),
    path("<int:number>/tags/", views.ticket_tags, name="tags"),
    path("<int:number>/template/", views.ticket_template, name="template"),
    path("<int:number>/attachments/<str:token>/", views.attachment_download, name="attachment"),
    path("<int:number>/delete/", views.ticket_delete, name="delete"),  # permanent, Admins (section 18)
    path("<int:number>/refunds/", refund_views.ticket_refunds, name="refunds"),  # billing: refund requests
    path("<int:number>/refunds/request/", refund_views.refund_request, name="refund_request"),
    path("views/", views.view_create, name="view_create"),
    path("views/<int:pk>/delete/", views.view_delete, name="view_delete"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_create"),
    path("templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
]
