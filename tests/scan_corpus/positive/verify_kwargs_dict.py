import requests

requests.get("https://files.example.com/a.tar", **{"verify": False, "timeout": 5})
