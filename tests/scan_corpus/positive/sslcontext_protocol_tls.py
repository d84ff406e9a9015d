import ssl
import urllib.request

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)
urllib.request.urlopen("https://legacy.example.org/", context=ctx)
