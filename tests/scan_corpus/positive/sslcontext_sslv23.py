import ssl
import urllib.request

legacy = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
legacy.load_verify_locations("corp-ca.pem")
urllib.request.urlopen("https://legacy.example.org/", context=legacy)
urllib.request.urlopen("https://other.example.org/", context=ssl.SSLContext())
