import os

os.environ["CURL_CA_BUNDLE"] = ""
