import requests

with requests.Session() as session:
    session.verify = "/etc/ssl/certs/corp-ca.pem"
    session.get("https://intranet.example/")
