"""The sweep that fires due timers, calendar reloads and the scheduler around them."""
