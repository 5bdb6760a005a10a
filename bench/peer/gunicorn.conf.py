"""gunicorn's configuration for django-helpdesk in the peer benchmark: none beyond the Procfile's command line
(gunicorn's own logger; Halo's ``gunicorn.conf.py`` names a logger class from Halo's code)."""
