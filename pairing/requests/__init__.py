"""Chat requests: offer to every available mitra, accept, decline, cancel, expire."""
