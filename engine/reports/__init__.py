"""The CME register, RAG, MASH, returns and escalation reports."""
