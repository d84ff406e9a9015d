from requests import get

response = get("https://vendor.example/status", verify=False, timeout=5)
