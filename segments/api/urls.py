"""Server API routes of the segments app (mounted under ``/api/v1/``)."""

from django.urls import path

from segments.api.views import SegmentDetailView, SegmentListView, SegmentPreviewView

urlpatterns = [
    path("segments", SegmentListView.as_view(), name="segment-list"),
    path("segments/preview", SegmentPreviewView.as_view(), name="segment-preview"),
    path("segments/<id:segment_id>", SegmentDetailView.as_view(), name="segment-detail"),
]
