"""gunicorn settings read from the working directory (``/app`` in the image, the repository otherwise):
``gunicorn lumiodesk.wsgi`` picks this file up by itself, so docker-compose and the Dockerfile need no flag.

The access log goes through ``lumiodesk.log_redaction.GunicornLogger``: the token of a sign-in, rating,
confirmation or verification link never reaches it (issue 15, item 7).
"""

logger_class = "lumiodesk.log_redaction.GunicornLogger"
