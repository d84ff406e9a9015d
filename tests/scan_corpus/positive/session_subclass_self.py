import requests


class LegacySession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.verify = False
