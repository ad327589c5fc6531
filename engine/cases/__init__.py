"""Cases: events, decisions, the unit of work, commands, reads and views."""
