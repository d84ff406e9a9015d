import requests

VERIFY_TLS = True
TIMEOUT = 30


def get_json(url: str) -> object:
    return requests.get(url, verify=VERIFY_TLS, timeout=TIMEOUT).json()
