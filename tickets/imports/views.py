"""Settings > Import: upload, mapping with a preview, test import, report, full import with its progress."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from lumiodesk.access import requires
from lumiodesk.exceptions import DomainError

from . import services
from .models import ImportKind, ImportRun, ImportState
from .reading import MAX_BYTES


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Que contient le fichier ?"), choices=ImportKind.choices,
                             initial=ImportKind.TICKETS)
    file = forms.FileField(label=gettext_lazy("Fichier CSV (20 Mo au plus)"))


def _run(request: HttpRequest, pk: int) -> ImportRun:
    return get_object_or_404(ImportRun.objects.defer("data"), pk=pk, organization=request.organization)


@requires("imports.manage")
def import_home(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            form.add_error("file", _("Fichier trop volumineux : 20 Mo au plus. Découpez-le (par trimestre, "
                                     "par exemple)."))
        else:
            try:
                run = services.start_import(organization=request.organization, actor=request.actor,
                                            kind=form.cleaned_data["kind"], filename=upload.name,
                                            data=upload.read())
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect("imports:detail", pk=run.pk)
    return render(request, "imports/home.html", {
        "form": form, "runs": services.runs_of(request.organization),
        "targets": [(ImportKind(kind).label, fields) for kind, fields in services.TARGETS.items()],
    }, status=400 if request.method == "POST" else 200)


@requires("imports.manage")
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if run.state != ImportState.MAPPING:
        return render(request, "imports/report.html", {"run": run})
    table = services.table_of(ImportRun.objects.get(pk=run.pk))
    error = ""
    if request.method == "POST":
        mapping = {t.name: request.POST.get(f"map_{t.name}", "") for t in services.TARGETS[run.kind]}
        try:
            services.set_mapping(run=run, actor=request.actor, mapping=mapping)
            background = services.launch(run=run, actor=request.actor, test=request.POST.get("test") == "1")
        except DomainError as exc:
            error = exc.message
        else:
            if background:
                messages.info(request, _("L'import continue en arrière-plan : vous pouvez quitter cette page."))
            return redirect("imports:detail", pk=run.pk)
    fields = [(t, run.mapping.get(t.name, "")) for t in services.TARGETS[run.kind]]
    mapped = [t for t, column in fields if column]
    return render(request, "imports/mapping.html", {
        "run": run, "headers": table.headers, "fields": fields, "mapped": mapped, "error": error,
        "preview": [[row.get(t.name, "") for t in mapped] for row in services.preview(run)],
        "test_rows": services.TEST_ROWS,
        "split_advice": run.kind == ImportKind.TICKETS and run.total_rows > services.SPLIT_ADVICE_ROWS,
    }, status=400 if error else 200)


@requires("imports.manage")
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    response = render(request, "imports/report.html#progress", {"run": run})
    if run.state != ImportState.RUNNING and request.htmx:
        response["HX-Refresh"] = "true"  # finished: the whole page shows the report
    return response


@requires("imports.manage")
@require_POST
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    try:
        removed = services.undo_import(run=run, actor=request.actor)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Import annulé : %(t)s tickets, %(c)s clients, %(e)s entreprises et %(g)s tags "
                                    "supprimés.") % {"t": removed["tickets"], "c": removed["customers"],
                                                     "e": removed["companies"], "g": removed["tags"]})
    return redirect("imports:detail", pk=run.pk)
