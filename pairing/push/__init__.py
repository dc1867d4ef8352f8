"""FCM pushes to mitras with no open socket: offers, withdrawals, every attempt recorded."""
