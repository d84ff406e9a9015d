import requests

VERIFY_TLS = False
TIMEOUT = 30


def get_json(url: str) -> object:
    return requests.get(url, verify=VERIFY_TLS, timeout=TIMEOUT).json()
