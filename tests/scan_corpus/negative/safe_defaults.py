import os
import ssl

import aiohttp
import httpx
import requests
import urllib3

requests.get("https://example.com/")
requests.get("https://example.com/", verify=None)
httpx.Client()
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
default_ctx = ssl.create_default_context()
default_ctx.check_hostname = True
default_ctx.verify_mode = ssl.CERT_REQUIRED
urllib3.PoolManager()
aiohttp.TCPConnector(ssl=None)
os.environ["PYTHONHTTPSVERIFY"] = "1"
os.environ["REQUESTS_CA_BUNDLE"] = "/etc/ssl/certs/corp-ca.pem"
os.environ["SSL_CERT_FILE"] = ""
