import ssl

# puts back the standard factory after a test replaced it
ssl._create_default_https_context = ssl.create_default_context
