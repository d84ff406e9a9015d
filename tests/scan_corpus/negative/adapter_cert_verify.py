from requests.adapters import HTTPAdapter


class LoggingAdapter(HTTPAdapter):
    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)
