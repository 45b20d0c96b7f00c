"""Tests of the collectors package."""
