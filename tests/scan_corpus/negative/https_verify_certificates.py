import ssl

if hasattr(ssl, "_https_verify_certificates"):
    ssl._https_verify_certificates(True)
