"""The agents app's DRF views, serializers and URLs."""
