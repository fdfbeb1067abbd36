"""Bench code shared by the bench commands (``make bench``): the SLA scan (``sla``) and the automations
(``automations``). The console, intake and widget benches are whole commands in devtools/management/commands/."""
