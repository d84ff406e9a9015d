import requests


class InsecureAdapter(requests.adapters.HTTPAdapter):
    def send(self, request, **kwargs):
        kwargs["verify"] = False
        return super().send(request, **kwargs)
