"""Tooling that is not the product: benchmarks, the assistant's evaluation, the demo seed.

Kept out of the product's app packages (issue 14): nothing in ``lumiodesk``, ``tickets``, ``kb``,
``billing``, ``crm``, ``sla`` or ``automations`` imports from here.
"""

from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "devtools"
    verbose_name = "Developer tools"
