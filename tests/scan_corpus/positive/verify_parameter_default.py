import requests


def download(url: str, verify: bool = False) -> bytes:
    return requests.get(url, verify=verify).content
