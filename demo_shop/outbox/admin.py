from django.contrib import admin

from demo_shop.outbox.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("subject", "to", "sent_at")
    search_fields = ("subject", "to")
    date_hierarchy = "sent_at"
    readonly_fields = ("subject", "from_email", "to", "body_text", "body_html", "headers", "sent_at")
