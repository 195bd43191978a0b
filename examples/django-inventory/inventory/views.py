"""GET /items needs inventory.read, POST /items inventory.write; GET
/healthz answers 200 once the first policy bundle is loaded."""
import threading

from django.http import JsonResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from gaia_iam.django import HasPermission, get_authorizer

_lock = threading.Lock()
_items: list[dict] = []


def healthz(request):
    if not get_authorizer().ready():
        return JsonResponse({"error": "not_ready", "message": "no policy bundle loaded yet"}, status=503)
    return JsonResponse({"status": "ok"})


class Items(APIView):
    def get_permissions(self):
        needed = "inventory.write" if self.request.method == "POST" else "inventory.read"
        return [HasPermission(needed)()]

    def get(self, request):
        with _lock:
            return Response({"items": list(_items)})

    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        name, quantity = body.get("name"), body.get("quantity", 0)
        if not isinstance(name, str) or not name or not isinstance(quantity, int):
            return Response({"error": "invalid_request", "message": 'body must be {"name": "...", "quantity": n}'}, status=400)
        item = {"name": name, "quantity": quantity, "added_by": request.user.username}
        with _lock:
            _items.append(item)
        return Response(item, status=201)
