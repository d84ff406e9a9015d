import ssl
import urllib.request

urllib.request.urlopen("https://legacy.example.org/", context=ssl.create_default_context())
