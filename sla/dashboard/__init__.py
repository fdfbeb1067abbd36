"""The managers' dashboard (Reports > Tableau de bord), its PDF report and the queue hygiene alerts.

- ``figures``: every figure, computed by a fixed number of aggregate SQL queries (six, whatever the
  number of tickets), each bounded by the period or by the open backlog and served by an index; never a
  Python loop over tickets. The result is plain JSON (stored as is in a ``DashboardReport``).
- ``rollups``: the period's counts and durations from per-day rollups (Celery beat), today and the days not
  built or changed since read live: the same figures (percentiles within 2.2 %), at 1,000,000 tickets.
- ``filters``: the filters and the 002 objectives that both share.
- ``team_figures``: the per-team table (the per-agent columns for each team of ``lumiodesk.teams``), one query
  for the teams, the rest from the period's figures per agent; saved with the figures (``data["teams"]``).
- ``charts``: the geometry of the server-side SVG charts (rendered by ``templates/dashboard/``).
- ``reports``: a report for a period, saved with the time zone in force, rendered to PDF (WeasyPrint).
- ``hygiene``: "En cours" tickets left 24 h, urgent customers not updated for 2 h (Celery beat, notified once).
"""
