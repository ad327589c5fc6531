"""Tables and the schema steps that upgrade them."""
