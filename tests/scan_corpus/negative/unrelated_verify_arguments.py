"""verify= that has nothing to do with TLS, and ssl= outside aiohttp."""

import asyncio

import jwt


def check_signature(payload: bytes, verify: bool = False) -> bool:
    return verify


claims = jwt.decode("token", options={"verify_signature": True}, verify=False)
check_signature(b"data", verify=False)
signer.sign(b"data", verify=False)
config.load(verify=False)
self_test(verify=0)


async def plain() -> None:
    await asyncio.open_connection("mail.example.com", 25, ssl=False)
