"""API tokens in the admin, never showing a whole key (see `ApiToken`).

A token's primary key is its key, and the admin puts primary keys in links (change, history,
delete pages), in the action checkboxes and in its history entries. So tokens get a list and
an add page only, with the key masked except once, in the message right after it is made;
they are revoked from the users' list (an action) or by deactivating the user. Either
reaches every process within TOKEN_CACHE_POLL_MS (orchestrator/core/tokens.py).
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import Token, TokenProxy

from orchestrator.core.models import ApiToken

admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    list_display = ("masked_key", "user", "created")
    list_display_links = None

    @admin.display(description="key")
    def masked_key(self, token: ApiToken) -> str:
        return f"{token.key[:4]}…"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self.to_list(request)

    def history_view(self, request, object_id, extra_context=None):
        return self.to_list(request)

    def delete_view(self, request, object_id, extra_context=None):
        return self.to_list(request)

    def to_list(self, request):
        self.message_user(request, "Revoke tokens from the users' list (an action).")
        return redirect("admin:core_apitoken_changelist")

    def log_addition(self, request, obj, message):
        """Not logged: a history entry stores the primary key, which is the token itself."""

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, f"The new token for {obj.user} is {obj.key}; it is not shown again.",
            messages.WARNING,
        )  # fmt: skip
        return redirect("admin:core_apitoken_changelist")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ContextenUserAdmin(UserAdmin):
    actions = ["revoke_api_tokens"]

    @admin.action(description="Revoke the selected users' API tokens")
    def revoke_api_tokens(self, request, queryset):
        revoked = 0
        for token in Token.objects.filter(user__in=queryset):
            token.delete()  # one by one: each delete announces the revocation
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API token(s).")
