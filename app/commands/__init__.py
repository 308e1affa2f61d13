"""One module per subcommand: `run(args) -> exit status`. Only this layer prints."""
