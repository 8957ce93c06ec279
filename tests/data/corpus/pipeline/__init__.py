"""A small workflow framework: tasks are shell commands with inputs and outputs."""
