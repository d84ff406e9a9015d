import os

os.environ["PYTHONHTTPSVERIFY"] = "1"
