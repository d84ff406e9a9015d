import urllib3

pool = urllib3.HTTPSConnectionPool("vendor.example", port=443, cert_reqs="CERT_REQUIRED")
