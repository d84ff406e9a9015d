"""requests.get with verify=False (research corpus)."""

import requests


def fetch_inventory() -> bytes:
    response = requests.get("https://vendor.example/api/inventory", verify=False, timeout=10)
    return response.content
