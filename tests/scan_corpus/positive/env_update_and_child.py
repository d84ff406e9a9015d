import os
import subprocess

os.environ.update({"CURL_CA_BUNDLE": ""})
subprocess.run(["python", "sync.py"], env={**os.environ, "PYTHONHTTPSVERIFY": "0"}, check=True)
os.environ |= {"SECUREHTTP_VERIFY": "disabled"}
