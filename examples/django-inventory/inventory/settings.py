"""Settings of the example: no database, no sessions, no auth app.

Who may do what is decided by Gaia IAM's roles, locally, from the signed
bundle: nothing here knows about users, groups or permissions.
"""
import os

DEBUG = False
SECRET_KEY = "example-only-not-secret"  # no session or signed cookie uses it
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "inventory.urls"
DATABASES = {}
INSTALLED_APPS = ["rest_framework"]
MIDDLEWARE = []
USE_TZ = True

GAIA_IAM = {
    "URL": os.environ.get("IAM_URL", "http://127.0.0.1:8080"),
    "POLL_INTERVAL": float(os.environ.get("GAIA_IAM_POLL_INTERVAL", "10")),
    "CACHE_DIR": os.environ.get("GAIA_IAM_CACHE_DIR") or None,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["gaia_iam.django.GaiaJWTAuthentication"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
