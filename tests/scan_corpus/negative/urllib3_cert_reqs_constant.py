import ssl

import urllib3

http = urllib3.PoolManager(cert_reqs=ssl.CERT_REQUIRED)
http.request("GET", "https://vendor.example/")
