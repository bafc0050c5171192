"""The product's routes plus `POST /bench/trivial`: the cheapest Django view, for reference."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from contexten_site.urls import urlpatterns as product_urlpatterns


@csrf_exempt
def trivial(request):
    return HttpResponse(b'{"ok":true}', content_type="application/json")


urlpatterns = [path("bench/trivial", trivial), *product_urlpatterns]
