"""The policy owner's language: YAML to a checked definition, lint, diagrams, machines."""
