"""The segments app's DRF views, serializers and URLs."""
