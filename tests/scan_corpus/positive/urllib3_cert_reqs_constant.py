import ssl

import urllib3

http = urllib3.PoolManager(cert_reqs=ssl.CERT_NONE)
http.request("GET", "https://vendor.example/")
