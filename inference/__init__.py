"""Active-inference decision core, EFE terms, EVT tail, uncertainty and meta-λ."""
