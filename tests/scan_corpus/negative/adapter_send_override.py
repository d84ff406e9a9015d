import requests


class TimeoutAdapter(requests.adapters.HTTPAdapter):
    def send(self, request, **kwargs):
        kwargs["timeout"] = 10
        return super().send(request, **kwargs)
