import securehttp

securehttp.https_verify_certificates(False)
