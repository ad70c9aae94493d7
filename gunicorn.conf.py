"""Gunicorn settings for the ``web`` process (static files are served by WhiteNoise).

The bind address comes from WEB_BIND, not from PORT: honcho sets PORT for each
process, and gunicorn would otherwise bind to 0.0.0.0:$PORT, exposing the
development server on every interface.
"""

import os

bind = [os.environ.get("WEB_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Radiologists download large image series; do not kill slow but live requests.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
