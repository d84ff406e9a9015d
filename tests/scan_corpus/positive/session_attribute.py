import requests

s = requests.Session()
s.verify = False
s.get("https://intranet.example/")
