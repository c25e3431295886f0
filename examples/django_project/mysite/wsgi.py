"""The stock WSGI entry point: ``saml-middleware run mysite.wsgi:application`` serves it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = get_wsgi_application()
