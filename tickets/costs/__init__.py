"""Time on tickets and what it costs (001 §2, "BUDGET"): time entries and the running timer, their cost at
the agent's hourly cost in force (``crm.HourlyRate``), budgets' consumption and alerts, the cost dashboard.

``models`` (registered through ``tickets.models``), ``services`` (writes: time entries, timer, budgets),
``selectors`` (reads: figures per ticket, customer, company, agent, period; budget status), ``alerts``
(80 %, 100 %, pace), ``views``/``urls`` (the ticket block, the dashboard, hourly costs, budgets) and
``customer_views`` (customer and company records, which show tickets: they live above ``crm``)."""
