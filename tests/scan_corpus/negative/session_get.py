import requests

page = requests.Session().get("https://intranet.example/", verify=True)
