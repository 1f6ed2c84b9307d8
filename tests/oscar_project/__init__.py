"""A small django-oscar store (Oscar's "build your own shop" settings) with personalize added
by configuration only: the settings below, the URL include and the template tags."""
