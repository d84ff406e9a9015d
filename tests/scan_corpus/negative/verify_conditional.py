import os

import requests

DEBUG = os.environ.get("APP_DEBUG") == "1"
requests.get("https://api.example.com/", verify="/etc/ssl/dev-ca.pem" if DEBUG else True)
