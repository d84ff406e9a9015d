import os

import requests

DEBUG = os.environ.get("APP_DEBUG") == "1"
requests.get("https://api.example.com/", verify=False if DEBUG else True)
