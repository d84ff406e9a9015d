import ssl

import httpx

r = httpx.get("https://metrics.example.com/v1", verify=ssl.create_default_context())
