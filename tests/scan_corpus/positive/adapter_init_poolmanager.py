from requests.adapters import HTTPAdapter


class LegacyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, cert_reqs="CERT_NONE", **kwargs)
