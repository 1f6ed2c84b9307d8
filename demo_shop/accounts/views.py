from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

import personalize
from demo_shop.accounts.forms import SignupForm


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:account")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # login() fires user_logged_in: personalize moves this browser's history to the account.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if form.cleaned_data.get("email_consent"):
            personalize.set_email_consent(request, True)
        messages.success(request, _("Welcome, %(name)s! Your account is ready.") % {"name": user.first_name})
        return redirect("catalog:home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    orders = request.user.orders.prefetch_related("lines").order_by("-created_at")[:50]
    return render(request, "accounts/account.html", {"orders": orders})
