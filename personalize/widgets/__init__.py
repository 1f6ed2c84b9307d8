"""Widgets: the template tags a store puts on its pages, and the rendering they share.

:mod:`~personalize.widgets.render` renders a widget so a failure never breaks the page,
:mod:`~personalize.widgets.items` turns products into items (the one place, also for the API and
emails); one module of tags per capability (recommendations, campaigns, segments), all loaded by
``{% load personalize %}``.
"""
