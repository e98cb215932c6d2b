from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """DRF token auth that reads `Authorization: Bearer <token>` (the seed guide's header)."""

    keyword = "Bearer"
