"""School time: calendars, school-day arithmetic, compulsory school age, deadlines."""
