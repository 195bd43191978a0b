"""The example inventory service, in FastAPI: run it with

    IAM_URL=http://127.0.0.1:8080 /usr/bin/python3 main.py

GET /items needs inventory.read, POST /items inventory.write; GET /healthz
answers 200 once the first policy bundle is loaded. EXAMPLE_HTTP_ADDR
(default 127.0.0.1:8081), GAIA_IAM_POLL_INTERVAL and GAIA_IAM_CACHE_DIR
configure it.
"""
import os
import threading

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gaia_iam import Authorizer, Principal
from gaia_iam.fastapi import require_permission

authz = Authorizer(
    os.environ.get("IAM_URL", "http://127.0.0.1:8080"),
    poll_interval=float(os.environ.get("GAIA_IAM_POLL_INTERVAL", "10")),
    cache_dir=os.environ.get("GAIA_IAM_CACHE_DIR") or None,
)
app = FastAPI(title="example-inventory")
_lock = threading.Lock()
_items: list[dict] = []


class Item(BaseModel):
    name: str
    quantity: int = 0


@app.get("/healthz")
def healthz():
    if not authz.ready():
        return JSONResponse({"error": "not_ready", "message": "no policy bundle loaded yet"}, status_code=503)
    return {"status": "ok"}


@app.get("/items")
def list_items(principal: Principal = Depends(require_permission("inventory.read", authorizer=authz))):
    with _lock:
        return {"items": list(_items)}


@app.post("/items", status_code=201)
def add_item(item: Item, principal: Principal = Depends(require_permission("inventory.write", authorizer=authz))):
    added = {"name": item.name, "quantity": item.quantity, "added_by": principal.username}
    with _lock:
        _items.append(added)
    return added


if __name__ == "__main__":
    host, _, port = os.environ.get("EXAMPLE_HTTP_ADDR", "127.0.0.1:8081").rpartition(":")
    uvicorn.run(app, host=host, port=int(port), log_level="warning")
