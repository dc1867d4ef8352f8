"""Real time: the WebSocket endpoints, delivery of events to them, and mitra presence."""
