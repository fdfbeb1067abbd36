from django.urls import path

from . import views

app_name = "automations"

urlpatterns = [
    path("settings/automations/", views.rule_list, name="rules"),
    path("settings/automations/new/", views.rule_edit, name="rule_create"),
    path("settings/automations/order/", views.rule_reorder, name="rule_reorder"),
    path("settings/automations/examples/", views.rule_examples, name="rule_examples"),
    path("settings/automations/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("settings/automations/<int:pk>/active/", views.rule_toggle, name="rule_toggle"),
    path("settings/automations/<int:pk>/move/", views.rule_move, name="rule_move"),
    path("settings/automations/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/webhooks/", views.webhook_list, name="webhooks"),
    path("settings/webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("settings/webhooks/<int:pk>/deliveries/", views.webhook_deliveries, name="webhook_deliveries"),
    path("settings/webhooks/<int:pk>/test/", views.webhook_test, name="webhook_test"),
    path("settings/webhooks/<int:pk>/active/", views.webhook_toggle, name="webhook_toggle"),
    path("settings/webhooks/<int:pk>/secret/", views.webhook_rotate, name="webhook_rotate"),
    path("settings/webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("tickets/<int:number>/automations/", views.ticket_journal, name="ticket_journal"),
]
