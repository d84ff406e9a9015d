import ssl
import urllib.request

urllib.request.urlopen("https://legacy.example.org/", context=ssl._create_stdlib_context())
