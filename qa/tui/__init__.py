"""The Textual chat front end. Import nothing here: ``qa --help`` must not load textual."""
