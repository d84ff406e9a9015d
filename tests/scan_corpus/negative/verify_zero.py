import requests

requests.post("https://hooks.example.com/notify", json={"ok": True}, verify=1)
