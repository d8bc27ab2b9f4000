"""`python -m bot` is `escbot`."""

from bot.cli import main

main()
