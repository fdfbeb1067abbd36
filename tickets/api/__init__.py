"""The REST API (section 12): ``/api/v1/`` for organizations whose plan includes it (Business, Scale).

Contract:
- A request authenticates with ``Authorization: Bearer <key>``: an ``ApiKey`` of the organization, acting
  with the role it was created with (``lumiodesk.permissions.ApiKeyActor``), through the same permission
  table and the same service functions as the console. The API writes nothing itself: every change goes
  through ``tickets.services``, ``kb.services``, ``crm.services``.
- Objects are looked up within the key's organization: another organization's id is a 404.
- Requests are counted per organization against the plan's ``api_requests_per_minute`` in Redis
  (``ratelimit``); past it, 429 with ``Retry-After``; every answer carries ``X-RateLimit-*``.
- Errors have one shape: ``{"error": {"code": "...", "message": "..."}}``, the message in French or English
  (``Accept-Language``).
- A POST that creates something may carry ``Idempotency-Key``: retried with the same key, it answers what
  the first answered and creates nothing twice (``idempotency``).
- Reads answer ``ETag``; ``If-None-Match`` with the same tag gets a 304.
"""
