import requests


def configure(s: requests.Session) -> None:
    s.verify = False
