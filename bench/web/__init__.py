"""``bench web``: watch and drive clusters in the browser (simulated, real processes, or replayed).

The server (aiohttp, 127.0.0.1 only) runs the sources and pushes batched frames over one
websocket; the page (``static/``: plain HTML, JS and CSS, no build step) draws them.
"""
