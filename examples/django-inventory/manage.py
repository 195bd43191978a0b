#!/usr/bin/env python3
"""The example inventory service, in Django + DRF: run it with

    IAM_URL=http://127.0.0.1:8080 /usr/bin/python3 manage.py runserver --noreload 127.0.0.1:8081
"""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
