"""Personal data guarded: roles and access, encryption at rest, retention."""
