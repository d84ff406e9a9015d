import requests


def call(method: str, path: str) -> requests.Response:
    return requests.request(method, "https://api.example.com/" + path, verify=True)
