from django.contrib import admin

from .models import Company, Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "first_name", "last_name", "company", "organization")
    search_fields = ("email", "first_name", "last_name")


admin.site.register(Company)
