"""django-oscar integration: add ``"personalize.contrib.oscar"`` to ``INSTALLED_APPS`` (before
``"personalize"``) and an Oscar store gets every personalize feature (docs/oscar.md)."""
