"""One module per paper table or figure: frozen config -> run(cfg) -> DataFrame."""
