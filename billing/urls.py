from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("", views.billing_settings, name="settings"),
    path("plan/", views.change_plan, name="change_plan"),
    path("cancel/", views.cancel_subscription, name="cancel"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:pk>/paid/", views.invoice_paid, name="invoice_paid"),
    path("refunds/", views.pending_refunds, name="refunds"),
    path("refunds/<int:pk>/decide/", views.decide_refund, name="refund_decide"),
]
