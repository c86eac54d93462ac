"""The Starlette app that uvicorn serves in test_uvicorn.py, in-process and as
`python -m uvicorn asgi_app:app`."""

import asyncio
import hashlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

CHUNK = bytes(range(256)) * 256


async def loop_name(request):
    loop = type(asyncio.get_running_loop())
    return PlainTextResponse(f'{loop.__module__}.{loop.__qualname__}')


async def client_port(request):
    """Which TCP connection the request came on (keep-alive tests; None on a Unix
    socket), after a short sleep (concurrency tests)."""
    await asyncio.sleep(float(request.query_params.get('sleep', 0)))
    port = request.client.port if request.client else None
    return JSONResponse({'port': port, 'n': request.query_params['n']})


async def digest(request):
    body = await request.body()
    return JSONResponse({'length': len(body), 'sha256': hashlib.sha256(body).hexdigest()})


async def stream(request):
    async def chunks():
        for _ in range(int(request.query_params['chunks'])):
            yield CHUNK
            await asyncio.sleep(0)
    return StreamingResponse(chunks(), media_type='application/octet-stream')


async def websocket_echo(websocket):
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message['type'] == 'websocket.disconnect':
            return
        if message.get('text') is not None:
            await websocket.send_text(message['text'][::-1])
        else:
            await websocket.send_bytes(message['bytes'])


app = Starlette(routes=[
    Route('/loop', loop_name),
    Route('/port', client_port),
    Route('/digest', digest, methods=['POST']),
    Route('/stream', stream),
    WebSocketRoute('/ws', websocket_echo),
])
