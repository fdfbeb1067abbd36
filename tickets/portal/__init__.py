"""The customer-facing side of tickets: the public contact form, the customer portal (sign-in by
one-time link, my tickets, the public conversation, replies, notification preference, web
notifications) and satisfaction ratings.

Models: ``models`` (``PortalSignInLink``, ``SatisfactionRating``); every write goes through
``services`` / ``satisfaction`` so the API or an import can reuse the same rules.
"""
