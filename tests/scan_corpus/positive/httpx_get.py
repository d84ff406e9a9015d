import httpx

r = httpx.get("https://metrics.example.com/v1", verify=False)
