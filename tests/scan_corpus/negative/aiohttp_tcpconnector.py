import aiohttp

connector = aiohttp.TCPConnector(ssl=True, limit=10)
