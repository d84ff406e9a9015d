import os

os.putenv("PYTHONHTTPSVERIFY", "1")
