import aiohttp


async def fetch(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url, verify_ssl=False) as response:
        return await response.read()
