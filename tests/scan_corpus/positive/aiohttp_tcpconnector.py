import aiohttp

connector = aiohttp.TCPConnector(ssl=False, limit=10)
