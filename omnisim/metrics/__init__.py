"""omnisim."""
