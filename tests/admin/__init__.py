"""Tests of the admin services, the admin API and (tests/web) the admin pages."""
