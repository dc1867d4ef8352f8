"""Development tools: the launcher behind `make run/test/bench` and the test stack."""
