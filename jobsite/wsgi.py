import io
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")

# Bodies of chunked requests (Transfer-Encoding: chunked, no Content-Length) beyond this are refused with 413.
CHUNKED_BODY_MAX_BYTES = 10 * 1024 * 1024


def chunked_body_support(app, *, max_bytes: int = CHUNKED_BODY_MAX_BYTES):
    """Let Django read chunked request bodies.

    gunicorn decodes a chunked body and says so (`wsgi.input_terminated`), but sends no CONTENT_LENGTH, and Django
    reads CONTENT_LENGTH bytes of the body: zero. So a chunked POST would arrive empty. This reads such a body (up
    to `max_bytes`; beyond, 413) and hands it on with its length. Servers that do not decode chunked bodies
    (runserver) do not set `wsgi.input_terminated` and are left alone.
    """

    def application(environ, start_response):
        if (environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH")
                and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()):
            body = environ["wsgi.input"].read(max_bytes + 1)
            if len(body) > max_bytes:
                start_response("413 Request Entity Too Large", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"Request body too large\n"]
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return application


application = chunked_body_support(get_wsgi_application())
