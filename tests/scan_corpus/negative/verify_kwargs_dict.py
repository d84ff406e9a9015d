import requests

requests.get("https://files.example.com/a.tar", **{"verify": True, "timeout": 5})
