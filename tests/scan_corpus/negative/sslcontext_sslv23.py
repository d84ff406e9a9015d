import ssl
import urllib.request

legacy = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
legacy.load_verify_locations("corp-ca.pem")
legacy.verify_mode = ssl.CERT_REQUIRED
legacy.check_hostname = True
urllib.request.urlopen("https://legacy.example.org/", context=legacy)
urllib.request.urlopen("https://other.example.org/", context=ssl.create_default_context())
