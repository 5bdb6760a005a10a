"""Segments: the rule language that selects contacts, its Django ``Q`` compiler, and saved segments.

The language itself is a pure package (``segments/lang/``) with no Django imports.
"""
