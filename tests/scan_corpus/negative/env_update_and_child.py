import os
import subprocess

os.environ.update({"CURL_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"})
subprocess.run(["python", "sync.py"], env={**os.environ, "PYTHONHTTPSVERIFY": "1"}, check=True)
os.environ |= {"SECUREHTTP_VERIFY": "strict"}
