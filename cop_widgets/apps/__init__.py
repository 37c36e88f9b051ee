"""One module per app a person opens. Apps compose widgets and call services."""
