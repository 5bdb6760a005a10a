"""The escalation app's DRF views, serializers and URLs."""
