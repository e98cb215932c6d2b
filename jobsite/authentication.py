from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

from jobsite.throttles import AuthFailureThrottle


class BearerTokenAuthentication(TokenAuthentication):
    """DRF token auth that reads `Authorization: Bearer <token>` (the header the API's docs and curl examples use).

    Token guessing is throttled per client IP: after API_THROTTLE_AUTH_FAILURES invalid tokens in a window, every
    Bearer request from that IP is a 429 until the window ends, a valid token too (or a guesser would learn which
    guess was right). Requests without a Bearer header are not counted, and other clients are not affected.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        throttle = AuthFailureThrottle()
        wait = throttle.blocked_wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many invalid tokens from this address.")
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.failure_record(request)
            raise
