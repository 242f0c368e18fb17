"""The user's commands (login, logout, list, doctor, setup); `dispatch` parses and runs them."""
