"""Server API routes of the agents app (mounted under ``/api/v1/``)."""

from django.urls import path

from agents.api.views import (
    AgentListView,
    AgentView,
    ConversationListView,
    ConversationView,
    KnowledgeArticleListView,
    KnowledgeArticleView,
)

urlpatterns = [
    path("agents", AgentListView.as_view(), name="agent-list"),
    path("agents/<int:agent_id>", AgentView.as_view(), name="agent"),
    path("knowledge/articles", KnowledgeArticleListView.as_view(), name="knowledge-article-list"),
    path("knowledge/articles/<int:article_id>", KnowledgeArticleView.as_view(), name="knowledge-article"),
    path("conversations", ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>", ConversationView.as_view(), name="conversation"),
]
