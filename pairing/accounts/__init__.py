"""Accounts: users and their roles, sign-in, mitra availability, FCM devices."""
