from requests.adapters import HTTPAdapter


class NoVerifyAdapter(HTTPAdapter):
    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, False, cert)
