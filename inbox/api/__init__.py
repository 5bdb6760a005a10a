"""The inbox app's DRF views, serializers and URLs."""
