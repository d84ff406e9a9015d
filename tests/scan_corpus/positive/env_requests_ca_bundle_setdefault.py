import os

os.environ.setdefault("REQUESTS_CA_BUNDLE", "")
