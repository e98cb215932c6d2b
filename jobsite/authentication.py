from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF token auth that reads `Authorization: Bearer <token>` (the header the API's docs and curl examples use)."""

    keyword = "Bearer"
