import requests

s = requests.Session()
s.verify = "/etc/ssl/certs/corp-ca.pem"
s.get("https://intranet.example/")
