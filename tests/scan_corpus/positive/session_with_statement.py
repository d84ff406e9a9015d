import requests

with requests.Session() as session:
    session.verify = False
    session.get("https://intranet.example/")
