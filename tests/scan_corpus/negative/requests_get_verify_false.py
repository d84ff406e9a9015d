"""requests.get with verify=True (research corpus)."""

import requests


def fetch_inventory() -> bytes:
    response = requests.get("https://vendor.example/api/inventory", verify=True, timeout=10)
    return response.content
