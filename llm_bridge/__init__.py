"""LLM side: keyword prior D_LLM, sentence encoder, semantic preferences, advisors."""
