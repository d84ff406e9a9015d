import requests
from pip._vendor import urllib3

requests.packages.urllib3.util.parse_url("https://example.com/")
urllib3.disable_warnings(urllib3.exceptions.DependencyWarning)
