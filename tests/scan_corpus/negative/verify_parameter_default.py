import requests


def download(url: str, verify: bool = True) -> bytes:
    return requests.get(url, verify=verify).content
