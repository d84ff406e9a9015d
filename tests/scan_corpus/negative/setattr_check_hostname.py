import ssl

ctx = ssl.create_default_context()
setattr(ctx, "check_hostname", True)
