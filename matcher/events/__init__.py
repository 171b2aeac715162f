"""Matchmaking events (对接会): setup, invitations, requests, pairing and scheduling, outputs."""
