"""The business calendar, in the core: every app that counts in business time uses it (SLA due times, chat
availability, time rules, digests), so it sits below all of them.

- ``business_time``: pure business-time arithmetic over a ``Calendar`` (time zone, opening hours, holidays);
- ``selectors``: an organization's calendar from its ``BusinessHours`` and ``Holiday`` rows (one query);
- ``ical``: holidays read from an iCalendar file.
The models (``BusinessHours``, ``Holiday``) are in ``lumiodesk.models``; they keep their tables
``sla_businesshours`` and ``sla_holiday`` (they were moved from ``sla``, state only).
"""
