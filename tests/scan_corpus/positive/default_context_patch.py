import ssl

# "fixes" CERTIFICATE_VERIFY_FAILED for the whole process
ssl._create_default_https_context = ssl._create_unverified_context
