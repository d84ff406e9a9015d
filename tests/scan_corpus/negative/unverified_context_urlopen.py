import ssl
import urllib.request

with urllib.request.urlopen(
    "https://legacy.example.org/report", context=ssl.create_default_context()
) as response:
    body = response.read()
