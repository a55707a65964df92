"""The Data API (``/rest/v1``), PostgREST's contract, in PostgREST's stages (see ``service``)."""
