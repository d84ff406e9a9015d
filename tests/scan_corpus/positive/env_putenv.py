import os

os.putenv("PYTHONHTTPSVERIFY", "0")
