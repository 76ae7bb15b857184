"""Referral pages. Thin: scope and reads from queries, every change through services."""

from __future__ import annotations

import csv
import datetime
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from opencommissioning.core import charts as core_charts
from opencommissioning.core.importers import ImportRejected
from opencommissioning.core.middleware import forbidden
from opencommissioning.core.models import Organisation
from opencommissioning.core.permissions import Perm, has_permission, requires
from opencommissioning.core.roles import Role

from . import charts, commissioning, queries, services
from .forms import (
    AdviceForm,
    ReferralForm,
    ReplyForm,
    ReturnForm,
    RouteForm,
    SchemeForm,
    TariffImportForm,
    TokenIssueForm,
    TokenRevokeForm,
)
from .models import AdvicePaymentScheme, PracticeToken, Priority, Specialty, Status, Tariff


def _referral_or_404(request: HttpRequest, public_id: Any) -> Any:
    referral = queries.referral_for(request.user, public_id)
    if referral is None:
        raise Http404("No referral you may see has this id")
    return referral


def _apply(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _run(request: HttpRequest, action: Callable[[], Any], success: str) -> ValidationError | None:
    """Call a service; a rule's refusal comes back as the ValidationError to show."""
    try:
        action()
    except ValidationError as error:
        return error
    messages.success(request, success)
    return None


@requires(Perm.VIEW_REFERRALS)
def referral_list(request: HttpRequest) -> HttpResponse:
    referrals = queries.visible_referrals(request.user).order_by("-received_at")
    status = request.GET.get("status", "")
    if status in Status.values:
        referrals = referrals.filter(status=status)
    page = Paginator(referrals, 25).get_page(request.GET.get("page"))
    return render(request, "referrals/referral_list.html", {"page": page, "statuses": Status.choices, "status": status,
                                                            "can_submit": bool(queries.organisations_where(request.user, Role.REFERRER))})


@requires(Perm.SUBMIT_REFERRALS)
def referral_new(request: HttpRequest) -> HttpResponse:
    practices = Organisation.objects.filter(pk__in=queries.organisations_where(request.user, Role.REFERRER)).order_by("name")
    if not practices:
        return forbidden(request, "You are not a referrer in any practice.")
    form = ReferralForm(request.POST or None, practices=practices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            referral = services.submit_referral(
                by=request.user, practice=data["practice"] or practices[0], nhs_number=data["nhs_number"], specialty=data["specialty"],
                priority=data["priority"], requested=data["requested"], reason_text=data["reason_text"], notes=data["notes"],
            )
        except ValidationError as error:
            _apply(form, error)
        except PermissionError as refused:
            form.add_error("practice", str(refused))
        else:
            messages.success(request, f"Referral {referral.reference} sent for triage")
            return redirect("referrals:detail", public_id=referral.public_id)
    return render(request, "referrals/referral_form.html", {"form": form, "practice": practices[0], "several": len(practices) > 1})


@requires(Perm.VIEW_REFERRALS)
def referral_detail(request: HttpRequest, public_id: Any) -> HttpResponse:
    referral = _referral_or_404(request, public_id)
    is_reviewer = queries.is_reviewer_for(request.user, referral)
    is_referrer = queries.is_referrer_for(request.user, referral)
    context = {
        "referral": referral,
        "history": referral.history.select_related("by"),
        "episodes": referral.advice_episodes.select_related("given_by", "specialty"),
        "attachments": referral.attachments.only("title", "content_type", "size"),
        "is_reviewer": is_reviewer,
        "is_referrer": is_referrer,
        "claimed_by_me": referral.claimed_by_id == request.user.pk,
        "wait": queries.waiting(referral),
        "reply_form": ReplyForm(),
    }
    return render(request, "referrals/referral_detail.html", context)


@requires(Perm.TRIAGE_REFERRALS)
def worklist(request: HttpRequest) -> HttpResponse:
    specialty = request.GET.get("specialty", "")
    priority = request.GET.get("priority", "")
    items = queries.worklist(request.user, specialty=specialty, priority=priority)
    now = timezone.now()
    rows = [(r, queries.waiting(r, now)) for r in items[:200]]
    return render(request, "referrals/worklist.html", {
        "rows": rows, "specialties": Specialty.objects.all(), "priorities": Priority.choices,
        "specialty": specialty, "priority": priority, "count": items.count(),
    })


@requires(Perm.TRIAGE_REFERRALS)
@require_POST
def claim(request: HttpRequest, public_id: Any) -> HttpResponse:
    referral = _referral_or_404(request, public_id)
    try:
        services.claim_referral(by=request.user, referral=referral)
    except (ValidationError, PermissionError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        return redirect("referrals:worklist")
    messages.success(request, f"You have claimed {referral.reference}")
    return redirect("referrals:detail", public_id=referral.public_id)


@requires(Perm.TRIAGE_REFERRALS)
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    referral = services.claim_next(by=request.user, specialty_code=request.POST.get("specialty", ""))
    if referral is None:
        messages.info(request, "No referral is waiting for triage")
        return redirect("referrals:worklist")
    messages.success(request, f"You have claimed {referral.reference}")
    return redirect("referrals:detail", public_id=referral.public_id)


@requires(Perm.TRIAGE_REFERRALS)
@require_POST
def release(request: HttpRequest, public_id: Any) -> HttpResponse:
    referral = _referral_or_404(request, public_id)
    error = _run(request, lambda: services.release_referral(by=request.user, referral=referral), f"{referral.reference} is back on the worklist")
    if error:
        messages.error(request, " ".join(error.messages))
    return redirect("referrals:worklist")


def _triage_step(request: HttpRequest, public_id: Any, form_class: type[Form], template: str, act: Callable[[Any, dict[str, Any]], Any], done: str, extra: Callable[[Any], dict[str, Any]] | None = None) -> HttpResponse:
    referral = _referral_or_404(request, public_id)
    if not queries.is_reviewer_for(request.user, referral):
        return forbidden(request, "Only a referral reviewer of this practice's commissioner may triage it.")
    form = form_class(request.POST or None, initial={"specialty": referral.specialty_id})
    if request.method == "POST" and form.is_valid():
        error = _run(request, lambda: act(referral, form.cleaned_data), done.format(ref=referral.reference))
        if error is None:
            return redirect("referrals:detail", public_id=referral.public_id)
        _apply(form, error)
    context = {"referral": referral, "form": form, **(extra(referral) if extra else {})}
    return render(request, template, context)


@requires(Perm.TRIAGE_REFERRALS)
def route(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _triage_step(
        request, public_id, RouteForm, "referrals/route.html",
        lambda r, d: services.route_referral(by=request.user, referral=r, service=d["service"]),
        "{ref} accepted and routed",
        extra=lambda r: {"services": queries.services_with_prices(r.specialty_id, timezone.localdate())},
    )


@requires(Perm.TRIAGE_REFERRALS)
def advise(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _triage_step(
        request, public_id, AdviceForm, "referrals/advise.html",
        lambda r, d: services.give_advice(by=request.user, referral=r, advice=d["advice"], specialty=d.get("specialty")),
        "Advice returned to the referrer for {ref}",
    )


@requires(Perm.TRIAGE_REFERRALS)
def return_referral(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _triage_step(
        request, public_id, ReturnForm, "referrals/return.html",
        lambda r, d: services.return_referral(by=request.user, referral=r, reasons=d["reasons"]),
        "{ref} returned to the referrer",
    )


def _referrer_step(request: HttpRequest, public_id: Any, act: Callable[[Any], Any], done: str) -> HttpResponse:
    referral = _referral_or_404(request, public_id)
    if not queries.is_referrer_for(request.user, referral):
        return forbidden(request, "Only the referring practice may do this.")
    error = _run(request, lambda: act(referral), done.format(ref=referral.reference))
    if error is not None:
        messages.error(request, " ".join(error.messages))
    return redirect("referrals:detail", public_id=referral.public_id)


@requires(Perm.SUBMIT_REFERRALS)
@require_POST
def reply(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _referrer_step(request, public_id, lambda r: services.reply_to_advice(by=request.user, referral=r, reply=request.POST.get("reply", "")), "Your reply on {ref} has gone back to triage")


@requires(Perm.SUBMIT_REFERRALS)
@require_POST
def convert(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _referrer_step(request, public_id, lambda r: services.convert_to_referral(by=request.user, referral=r), "{ref} converted to a referral and sent for triage")


@requires(Perm.SUBMIT_REFERRALS)
@require_POST
def close(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _referrer_step(request, public_id, lambda r: services.close_with_advice(by=request.user, referral=r), "{ref} closed: the advice was enough")


# --- tariff and payment -----------------------------------------------------------------


@requires(Perm.MANAGE_TARIFF)
def tariffs(request: HttpRequest) -> HttpResponse:
    form = TariffImportForm(request.POST or None, request.FILES or None, prefix="tariff")
    scheme_form = SchemeForm(prefix="scheme")
    problems: list[Any] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tariff = services.import_tariff(
                by=request.user, name=data["name"], valid_from=data["valid_from"],
                prices_csv=data["prices"].read().decode("utf-8-sig", errors="replace"),
                mff_csv=data["market_forces"].read().decode("utf-8-sig", errors="replace"),
                prices_name=data["prices"].name, mff_name=data["market_forces"].name,
            )
        except ImportRejected as rejected:
            problems = rejected.problems
        else:
            messages.success(request, f"Imported {tariff}")
            return redirect("referrals:tariffs")
    return render(request, "referrals/tariffs.html", {
        "form": form, "scheme_form": scheme_form, "problems": problems,
        "tariffs": Tariff.objects.prefetch_related("prices__specialty", "market_forces__provider")[:5],
        "schemes": AdvicePaymentScheme.objects.all()[:10],
    })


@requires(Perm.MANAGE_TARIFF)
@require_POST
def scheme(request: HttpRequest) -> HttpResponse:
    form = SchemeForm(request.POST, prefix="scheme")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.set_advice_scheme(by=request.user, valid_from=data["valid_from"], basis=data["basis"],
                                       fixed_fee=data["fixed_fee"], percentage=data["percentage"],
                                       cap_per_practice_per_month=data["cap_per_practice_per_month"])
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, "The advice payment scheme is saved")
            return redirect("referrals:tariffs")
    return render(request, "referrals/tariffs.html", {
        "form": TariffImportForm(prefix="tariff"), "scheme_form": form, "problems": [],
        "tariffs": Tariff.objects.all()[:5], "schemes": AdvicePaymentScheme.objects.all()[:10],
    }, status=400)


def _month(value: str) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(value, "%Y-%m").replace(tzinfo=datetime.UTC).date()
    except (TypeError, ValueError):
        return None


@requires(Perm.VIEW_PAYMENT_STATEMENTS)
def statements(request: HttpRequest) -> HttpResponse:
    practices = queries.statement_practices(request.user)
    month = _month(request.GET.get("month", "")) or timezone.localdate().replace(day=1)
    code = request.GET.get("practice", "")
    if code and practices.filter(ods_code=code).exists():
        return redirect("referrals:statement", ods_code=code, month=f"{month:%Y-%m}")
    return render(request, "referrals/statements.html", {"practices": practices, "month": month})


def _statement(request: HttpRequest, ods_code: str, month: str) -> Any:
    period = _month(month)
    practice = queries.statement_practices(request.user).filter(ods_code=ods_code).first()
    if period is None or practice is None:
        raise Http404("No statement you may see for this practice and month")
    return queries.statement(practice, period)


@requires(Perm.VIEW_PAYMENT_STATEMENTS)
def statement(request: HttpRequest, ods_code: str, month: str) -> HttpResponse:
    result = _statement(request, ods_code, month)
    return render(request, "referrals/statement.html", {"statement": result, "month": month,
                                                        "csv_url": reverse("referrals:statement_csv", args=[ods_code, month])})


@requires(Perm.VIEW_PAYMENT_STATEMENTS)
def statement_csv(request: HttpRequest, ods_code: str, month: str) -> HttpResponse:
    result = _statement(request, ods_code, month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="advice-statement-{ods_code}-{month}.csv"'
    writer = csv.writer(response)
    writer.writerow(["practice", "month", "referral", "given_on", "specialty", "basis", "tariff_price", "fee", "cap_applied", "paid", "running_total", "outcome"])
    for line in result.lines:
        e = line.episode
        writer.writerow([ods_code, month, e.referral.reference, e.given_at.date().isoformat(), e.specialty.code,
                         e.scheme.basis if e.scheme else "", e.tariff_price if e.tariff_price is not None else "", line.line.fee,
                         line.line.cap_applied, line.line.paid, line.line.running_total, e.get_outcome_display()])
    writer.writerow([ods_code, month, "TOTAL", "", "", "", "", result.total_fees, result.total_cap_applied, result.total_paid,
                     result.total_paid, f"cap {result.cap}" if result.cap is not None else "no cap"])
    return response


# --- commissioning view -----------------------------------------------------------------


def _commissioning(request: HttpRequest) -> tuple[commissioning.View, dict[str, Any] | None]:
    """The view for the month and specialty asked for, and its funnel plot, each practice's
    point linking to the referrals behind its figure."""
    view = commissioning.commissioning_view(request.user, month=_month(request.GET.get("month", "")), specialty_code=request.GET.get("specialty", ""))
    drill = reverse("referrals:commissioning_referrals")
    extra = {"specialty": view.specialty.code} if view.specialty else {}
    links = {r.practice.ods_code: f"{drill}?{urlencode({'month': f'{view.month:%Y-%m}', 'practice': r.practice.ods_code, **extra})}"
             for r in view.practices}
    return view, charts.funnel_spec(view, links=links)


@requires(Perm.VIEW_REFERRAL_STATISTICS)
def commissioning_view(request: HttpRequest) -> HttpResponse:
    view, spec = _commissioning(request)
    query = urlencode({"month": f"{view.month:%Y-%m}", **({"specialty": view.specialty.code} if view.specialty else {})})
    return render(request, "referrals/commissioning.html", {
        "view": view, "specialties": Specialty.objects.all(), "month": f"{view.month:%Y-%m}", "statuses": Status.choices,
        "funnel_spec": spec, "funnel_description": charts.funnel_description(view), "query": query,
        "funnel_export": reverse("referrals:commissioning_funnel", args=["png"]).removesuffix(".png"),
        "can_manage_tariff": has_permission(request.user, Perm.MANAGE_TARIFF),
        "can_manage_tokens": has_permission(request.user, Perm.MANAGE_PRACTICE_TOKENS),
    })


@requires(Perm.VIEW_REFERRAL_STATISTICS)
def commissioning_funnel(request: HttpRequest, fmt: str) -> HttpResponse:
    """The funnel plot as PNG or SVG, for board papers (the same month and specialty)."""
    if fmt not in ("png", "svg"):
        raise Http404("No such format: PNG or SVG")
    view, spec = _commissioning(request)
    if spec is None:
        raise Http404("No funnel plot for this month: no practice has a list size, or no referral was made")
    body = core_charts.export(spec, fmt)
    response = HttpResponse(body, content_type="image/svg+xml" if fmt == "svg" else "image/png")
    name = f"referral-funnel-{view.month:%Y-%m}" + (f"-{view.specialty.code}" if view.specialty else "")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@requires(Perm.VIEW_REFERRAL_STATISTICS)
def commissioning_referrals(request: HttpRequest) -> HttpResponse:
    month = _month(request.GET.get("month", "")) or timezone.localdate().replace(day=1)
    referrals = commissioning.drilldown(request.user, month=month, practice=request.GET.get("practice", ""),
                                        specialty=request.GET.get("specialty", ""), status=request.GET.get("status", ""),
                                        advice=request.GET.get("advice", ""))
    page = Paginator(referrals, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "referrals/commissioning_referrals.html", {"page": page, "month": month, "querystring": params.urlencode()})


# --- practice API tokens ----------------------------------------------------------------


@requires(Perm.MANAGE_PRACTICE_TOKENS)
def tokens(request: HttpRequest) -> HttpResponse:
    practices = queries.token_counts(queries.token_practices(request.user))
    return render(request, "referrals/tokens.html", {"practices": practices})


def _token_practice(request: HttpRequest, ods_code: str) -> Organisation:
    practice = queries.token_practices(request.user).filter(ods_code=ods_code.upper()).first()
    if practice is None:
        raise Http404("No member practice of yours has this ODS code")
    return practice


@requires(Perm.MANAGE_PRACTICE_TOKENS)
@never_cache
def practice_tokens(request: HttpRequest, ods_code: str) -> HttpResponse:
    """A practice's tokens; posting the form issues one and shows it, once, in the answer
    (never stored, never put in a message or a redirect)."""
    practice = _token_practice(request, ods_code)
    form = TokenIssueForm(request.POST or None, initial={"issue_key": uuid.uuid4()})
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.issue_practice_token(by=request.user, practice=practice, label=form.cleaned_data["label"],
                                                       issue_key=form.cleaned_data["issue_key"])
        except services.TokenAlreadyIssued as done:
            messages.warning(request, f"This form had already issued token {done.token.key_prefix}… "
                                      f"({date_format(timezone.localtime(done.token.created_at), 'j F Y H:i')}), and nothing more was issued. "
                                      "A token is shown only once: if it was not copied, revoke it and issue another.")
            return redirect("referrals:practice_tokens", ods_code=practice.ods_code)
        except PermissionError as refused:
            return forbidden(request, str(refused))
        except ValidationError as error:
            _apply(form, error)
        else:
            return render(request, "referrals/token_issued.html", {"practice": practice, "token": token, "raw": raw})
    return render(request, "referrals/practice_tokens.html", {
        "practice": practice, "tokens": queries.practice_tokens(practice), "form": form,
    }, status=400 if form.errors else 200)


@requires(Perm.MANAGE_PRACTICE_TOKENS)
def revoke_token(request: HttpRequest, ods_code: str, pk: int) -> HttpResponse:
    practice = _token_practice(request, ods_code)
    token = PracticeToken.objects.filter(practice=practice, pk=pk).select_related("revoked_by").first()
    if token is None:
        raise Http404("This practice has no token with this number")
    form = TokenRevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_practice_token(by=request.user, token=token, reason=form.cleaned_data["reason"])
        except PermissionError as refused:
            return forbidden(request, str(refused))
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, f"Token {token.key_prefix}… is revoked: the practice's system can no longer use it")
            return redirect("referrals:practice_tokens", ods_code=practice.ods_code)
    return render(request, "referrals/token_revoke.html", {"practice": practice, "token": token, "form": form},
                  status=400 if form.errors else 200)
