"""Thin views: validate the form, call one service, respond."""
