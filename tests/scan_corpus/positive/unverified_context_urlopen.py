import ssl
import urllib.request

with urllib.request.urlopen(
    "https://legacy.example.org/report", context=ssl._create_unverified_context()
) as response:
    body = response.read()
