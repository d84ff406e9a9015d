import os

os.environ["PYTHONHTTPSVERIFY"] = "0"
