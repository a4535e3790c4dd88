"""The ports: everything a function may touch, as small typed interfaces."""
