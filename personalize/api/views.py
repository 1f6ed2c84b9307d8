"""DRF endpoints: the browser beacon (and, per capability, read endpoints)."""

from rest_framework.views import APIView


class EventBatchView(APIView):
    """Placeholder replaced by the beacon implementation."""
