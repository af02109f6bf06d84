"""migtool: database migration discipline you can run."""

__version__ = "0.1.0"
