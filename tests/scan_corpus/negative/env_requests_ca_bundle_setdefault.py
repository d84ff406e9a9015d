import os

os.environ.setdefault("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corp-ca.pem")
